//! CertificateSigningRequests and bootstrap tokens with the real kubectl: `kubectl get csr`
//! columns, `kubectl certificate approve` and `deny`, the approver and signer of the
//! controller manager, `krust token create`, and what a bootstrap token may do (CSRs) and
//! may not (anything else: 403 with Kubernetes' message; a wrong token: 401).

use krust_e2e::{Cluster, true_within};
use std::time::Duration;

/// A PEM request for `cn` in `org` (as a kubelet or a user makes one).
fn request(cn: &str, org: &str) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    krust_api::csr::write(cn, &[org], &[], &[], &key).unwrap()
}

fn csr_yaml(name: &str, signer: &str, pem: &str, usages: &str) -> String {
    use base64::Engine;
    use std::fmt::Write;
    let b64 = base64::engine::general_purpose::STANDARD.encode(pem);
    let mut y = String::new();
    write!(
        y,
        "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata:\n  name: {name}\n\
         spec:\n  request: {b64}\n  signerName: {signer}\n  expirationSeconds: 3600\n  usages: [{usages}]\n"
    )
    .unwrap();
    y
}

fn condition(c: &Cluster, name: &str) -> String {
    krust_e2e::table(&c.ok(&["get", "csr", name]))[1][5].clone()
}

#[test]
fn kubectl_approves_and_denies_and_the_signer_issues() {
    let c = Cluster::start_with(&[]);
    let mine = c.write_file(
        "mine.yaml",
        csr_yaml(
            "mine",
            "example.com/mine",
            &request("alice", "devs"),
            "client auth",
        ),
    );
    c.ok(&["apply", "-f", mine.to_str().unwrap()]);
    let other = c.write_file(
        "other.yaml",
        csr_yaml(
            "other",
            "example.com/mine",
            &request("bob", "devs"),
            "client auth",
        ),
    );
    c.ok(&["apply", "-f", other.to_str().unwrap()]);
    let table = krust_e2e::table(&c.ok(&["get", "csr", "mine"]));
    assert_eq!(
        table[0],
        [
            "NAME",
            "AGE",
            "SIGNERNAME",
            "REQUESTOR",
            "REQUESTEDDURATION",
            "CONDITION"
        ]
    );
    assert_eq!(
        table[1][2..],
        ["example.com/mine", "kubernetes-admin", "60m", "Pending"]
    );
    // Another signer's requests wait for a person.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(condition(&c, "mine"), "Pending");
    let out = c.ok(&["certificate", "approve", "mine"]);
    assert!(
        out.contains("certificatesigningrequest.certificates.k8s.io/mine approved"),
        "{out}"
    );
    let out = c.ok(&["certificate", "deny", "other"]);
    assert!(out.contains("denied"), "{out}");
    assert_eq!(condition(&c, "mine"), "Approved");
    let described = c.ok(&["describe", "csr", "mine"]);
    assert!(
        described.contains("Requesting User:") && described.contains("kubernetes-admin"),
        "{described}"
    );
    assert_eq!(condition(&c, "other"), "Denied");
    assert_eq!(
        c.jsonpath(&["csr", "mine"], "{.status.conditions[0].reason}"),
        "KubectlApprove"
    );
    // Approved and denied exclude each other.
    let err = c.fails(&["certificate", "deny", "mine"]);
    assert!(
        err.contains("mutually exclusive") || err.contains("Approved"),
        "{err}"
    );

    // The API client signer issues what an administrator approves.
    let api_client = c.write_file(
        "client.yaml",
        csr_yaml(
            "api-client",
            "kubernetes.io/kube-apiserver-client",
            &request("carol", "devs"),
            "digital signature, client auth",
        ),
    );
    c.ok(&["apply", "-f", api_client.to_str().unwrap()]);
    c.ok(&["certificate", "approve", "api-client"]);
    assert!(
        true_within(Duration::from_secs(20), || condition(&c, "api-client")
            == "Approved,Issued"),
        "{}",
        c.ok(&["get", "csr", "api-client", "-o", "yaml"])
    );
    let cert = c.jsonpath(&["csr", "api-client"], "{.status.certificate}");
    assert!(!cert.is_empty());

    // Bad requests get Kubernetes' 422.
    let bad = c.write_file(
        "bad.yaml",
        "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata:\n  name: bad\n\
         spec:\n  request: bm90IGEgcmVxdWVzdA==\n  signerName: nodomain\n  usages: [flying]\n",
    );
    let err = c.fails(&["apply", "-f", bad.to_str().unwrap()]);
    assert!(
        err.contains("spec.request")
            && err.contains("spec.signerName")
            && err.contains("spec.usages[0]"),
        "{err}"
    );
}

#[test]
fn a_bootstrap_token_may_request_certificates_and_nothing_else() {
    let c = Cluster::start_with(&[]);
    let out = c.krust(&["token", "create"]);
    assert!(out.success(), "{}", out.stderr);
    let join = out.stdout.trim().to_string();
    let (_, token) = join.split_once("::").expect("K10<hash>::<token>");
    let ca = c.data_dir().join("pki/ca.crt");
    let as_token = |token: &str, args: &[&str]| {
        let mut all = vec![
            "--server",
            c.url(),
            "--certificate-authority",
            ca.to_str().unwrap(),
            "--token",
            token,
        ];
        all.extend_from_slice(args);
        let empty = c.write_file("empty.kubeconfig", "apiVersion: v1\nkind: Config\n");
        c.kubectl_with(&empty, &all)
    };
    let csr = c.write_file(
        "node.yaml",
        csr_yaml(
            "node-csr-test",
            "kubernetes.io/kube-apiserver-client-kubelet",
            &request("system:node:joiner", "system:nodes"),
            "digital signature, client auth",
        ),
    );
    let created = as_token(token, &["create", "-f", csr.to_str().unwrap()]);
    assert!(created.success(), "{}", created.stderr);
    let id = &token[..6];
    assert_eq!(
        c.jsonpath(&["csr", "node-csr-test"], "{.spec.username}"),
        format!("system:bootstrap:{id}")
    );
    // The approver and the signer issue a kubelet client certificate to a bootstrapper.
    assert!(
        true_within(Duration::from_secs(20), || condition(&c, "node-csr-test")
            == "Approved,Issued"),
        "{}",
        c.ok(&["get", "csr", "node-csr-test", "-o", "yaml"])
    );
    assert!(as_token(token, &["get", "csr"]).success());
    let pods = as_token(token, &["get", "pods"]);
    assert!(!pods.success());
    assert!(
        pods.stderr.contains(&format!(
            "pods is forbidden: User \"system:bootstrap:{id}\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
        )),
        "{}",
        pods.stderr
    );
    let delete = as_token(token, &["delete", "csr", "node-csr-test"]);
    assert!(
        !delete.success() && delete.stderr.contains("cannot delete resource \"certificatesigningrequests\" in API group \"certificates.k8s.io\" at the cluster scope"),
        "{}",
        delete.stderr
    );
    let wrong = as_token("abcdef.0123456789abcdef", &["get", "csr"]);
    assert!(!wrong.success());
    assert!(wrong.stderr.contains("Unauthorized"), "{}", wrong.stderr);
    // A token past its expiration is refused, then deleted by the token cleaner.
    let out = c.krust(&["token", "create", "--ttl", "2s"]);
    assert!(out.success(), "{}", out.stderr);
    let short = out.stdout.trim().split_once("::").unwrap().1.to_string();
    let secret = format!("bootstrap-token-{}", &short[..6]);
    c.ok(&["get", "secret", "-n", "kube-system", &secret]);
    assert!(
        true_within(Duration::from_secs(20), || {
            c.kubectl(&["get", "secret", "-n", "kube-system", &secret])
                .stderr
                .contains("NotFound")
        }),
        "the expired token's secret is still there"
    );
    assert!(!as_token(&short, &["get", "csr"]).success());
    // The server's own join token is in its data dir.
    let server_token = std::fs::read_to_string(c.data_dir().join("token")).unwrap();
    assert!(server_token.starts_with("K10"), "{server_token}");
}
