//! Tests of the ConfigMap, Secret and ServiceAccount printers (`config.rs`).

use serde_json::json;

use super::testing::{col_names, meta, row};

#[test]
fn configmap_secret_and_serviceaccount_rows_count_their_entries() {
    assert_eq!(
        row(
            "",
            "configmaps",
            json!({"metadata": meta("kube-root-ca.crt"), "data": {"ca.crt": "x", "b": "y"}, "binaryData": {"c": "eg=="}})
        ),
        ["kube-root-ca.crt", "3", "5s"]
    );
    assert_eq!(
        row("", "configmaps", json!({"metadata": meta("empty")})),
        ["empty", "0", "5s"]
    );
    assert_eq!(
        col_names("", "secrets"),
        [("Name", 0), ("Type", 0), ("Data", 0), ("Age", 0)]
    );
    assert_eq!(
        row(
            "",
            "secrets",
            json!({"metadata": meta("s"), "type": "Opaque", "data": {"a": "YQ=="}})
        ),
        ["s", "Opaque", "1", "5s"]
    );
    assert_eq!(
        col_names("", "serviceaccounts"),
        [("Name", 0), ("Secrets", 0), ("Age", 0)]
    );
    assert_eq!(
        row("", "serviceaccounts", json!({"metadata": meta("default")})),
        ["default", "0", "5s"]
    );
}
