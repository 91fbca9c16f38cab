//! Tests of the CertificateSigningRequest printer (`certificates.rs`).

use serde_json::json;

use super::testing::{ago, col_names, row};

const GROUP: &str = "certificates.k8s.io";

#[test]
fn csr_rows_show_signer_requestor_duration_and_condition() {
    assert_eq!(
        col_names(GROUP, "certificatesigningrequests"),
        [
            ("Name", 0),
            ("Age", 0),
            ("SignerName", 0),
            ("Requestor", 0),
            ("RequestedDuration", 0),
            ("Condition", 0)
        ]
    );
    let pending = json!({"metadata": {"name": "node-csr-a", "creationTimestamp": ago(90)},
        "spec": {"signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                 "username": "system:bootstrap:abcdef", "request": ""}});
    assert_eq!(
        row(GROUP, "certificatesigningrequests", pending),
        [
            "node-csr-a",
            "90s",
            "kubernetes.io/kube-apiserver-client-kubelet",
            "system:bootstrap:abcdef",
            "<none>",
            "Pending"
        ]
    );
    let issued = json!({"metadata": {"name": "csr-b", "creationTimestamp": ago(5)},
        "spec": {"signerName": "kubernetes.io/kubelet-serving", "username": "system:node:n1",
                 "expirationSeconds": 3600},
        "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "Y2VydA=="}});
    assert_eq!(
        row(GROUP, "certificatesigningrequests", issued)[4..],
        ["60m", "Approved,Issued"]
    );
    let denied = json!({"metadata": {"name": "c"}, "spec": {},
        "status": {"conditions": [{"type": "Approved"}, {"type": "Denied"}, {"type": "Failed"}]}});
    assert_eq!(
        row(GROUP, "certificatesigningrequests", denied)[5],
        "Denied,Failed"
    );
}
