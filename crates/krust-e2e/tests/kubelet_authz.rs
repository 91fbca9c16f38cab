//! Authorization on a real node (root only): `kubectl auth can-i` answered by the API server's
//! authorizer (SelfSubjectAccessReview, `--list` through SelfSubjectRulesReview) for the admin,
//! a service account and a node; and the kubelet's own API, which asks the API server about
//! every caller (TokenReview for bearer tokens, SubjectAccessReview for `nodes/proxy`,
//! `nodes/stats`…): a service account's token gets the kubelet's 403, the admin's and the API
//! server's certificates get through (`kubectl logs` and `exec` still work).

mod real_node_support;

use std::process::Command;

use krust_e2e::{Cluster, ROLLOUT_TIMEOUT, true_within};
use real_node_support::{IMAGE, apply, cluster};

const NS: &str = "krt-az-1";

/// `kubectl auth can-i ARGS` with `kubeconfig`: its stdout and whether it said yes.
fn can_i(c: &Cluster, kubeconfig: &std::path::Path, args: &[&str]) -> (String, bool) {
    let mut all = vec!["auth", "can-i"];
    all.extend(args);
    let out = c.kubectl_with(kubeconfig, &all);
    (out.stdout.trim().to_string(), out.success())
}

/// A kubeconfig presenting a certificate for `cn` in `org`, signed with the cluster CA.
fn certificate_kubeconfig(c: &Cluster, cn: &str, org: &str) -> std::path::PathBuf {
    use base64::Engine;
    let pki = c.data_dir().join("pki");
    let ca_cert = std::fs::read_to_string(pki.join("ca.crt")).unwrap();
    let ca_key =
        rcgen::KeyPair::from_pem(&std::fs::read_to_string(pki.join("ca.key")).unwrap()).unwrap();
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca_cert, &ca_key).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, org);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap().pem();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let config = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: krust\n  cluster:\n    server: {}\n    \
         certificate-authority-data: {}\nusers:\n- name: u\n  user:\n    client-certificate-data: {}\n    \
         client-key-data: {}\ncontexts:\n- name: u\n  context:\n    cluster: krust\n    user: u\n\
         current-context: u\n",
        c.url(),
        b64(&ca_cert),
        b64(&cert),
        b64(&key.serialize_pem())
    );
    c.write_file(&format!("{cn}.kubeconfig").replace(':', "-"), config)
}

/// `curl` to the node's kubelet with extra arguments: the status code and the body.
fn curl_kubelet(c: &Cluster, path: &str, args: &[&str]) -> (u16, String) {
    let node = c.node_name();
    let ip = c.jsonpath(
        &["node", &node],
        "{.status.addresses[?(@.type==\"InternalIP\")].address}",
    );
    let port = c.jsonpath(
        &["node", &node],
        "{.status.daemonEndpoints.kubeletEndpoint.Port}",
    );
    let out = Command::new("curl")
        .args(["-sk", "-w", "\n%{http_code}"])
        .args(args)
        .arg(format!("https://{ip}:{port}{path}"))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

#[test]
fn kubectl_auth_can_i_and_the_kubelet_api_ask_the_api_servers_authorizer() {
    let c = cluster();
    c.ok(&["create", "namespace", NS]);
    apply(
        &c,
        &format!(
            r#"apiVersion: v1
kind: ServiceAccount
metadata: {{name: reader, namespace: {NS}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: talker, namespace: {NS}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: main, image: {IMAGE}, command: [sh, -c, "echo hello from talker; sleep 3600"]}}
"#
        ),
    );

    // kubectl auth can-i, as the admin, a service account and the node.
    let admin = c.kubeconfig().to_path_buf();
    assert_eq!(can_i(&c, &admin, &["create", "pods"]), ("yes".into(), true));
    assert_eq!(
        can_i(&c, &admin, &["get", "nodes", "--subresource=proxy"]),
        ("yes".into(), true)
    );
    let token = c.ok(&["create", "token", "reader", "-n", NS]);
    let reader = c.token_kubeconfig("reader", token.trim());
    assert_eq!(
        can_i(&c, &reader, &["create", "pods"]),
        ("no".into(), false)
    );
    assert_eq!(
        can_i(&c, &reader, &["create", "selfsubjectaccessreviews"]),
        ("yes".into(), true)
    );
    let listed = c.kubectl_with(&reader, &["auth", "can-i", "--list"]);
    assert!(listed.success(), "{}", listed.stderr);
    assert!(
        listed
            .stdout
            .contains("selfsubjectaccessreviews.authorization.k8s.io"),
        "{}",
        listed.stdout
    );
    let node = c.node_name();
    let as_node = certificate_kubeconfig(&c, &format!("system:node:{node}"), "system:nodes");
    assert_eq!(
        can_i(&c, &as_node, &["list", "nodes"]),
        ("yes".into(), true)
    );
    assert_eq!(
        can_i(
            &c,
            &as_node,
            &["patch", &format!("nodes/{node}"), "--subresource=status"]
        ),
        ("yes".into(), true)
    );
    assert_eq!(
        can_i(&c, &as_node, &["create", "pods"]),
        ("no".into(), false)
    );
    // A SubjectAccessReview about someone else: only for those allowed to ask. (`create
    // --raw`: `create -f` would first list CRDs, which krust does not serve.)
    let sar = c.write_file(
        "sar.json",
        format!(
            r#"{{"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {{"user": "system:serviceaccount:{NS}:reader", "groups": ["system:authenticated"], "resourceAttributes": {{"verb": "get", "resource": "nodes", "subresource": "proxy", "name": "{node}"}}}}}}"#
        ),
    );
    let raw = [
        "create",
        "--raw",
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        "-f",
        sar.to_str().unwrap(),
    ];
    let answer: serde_json::Value = serde_json::from_str(&c.ok(&raw)).unwrap();
    assert_eq!(answer["status"], serde_json::json!({"allowed": false}));
    let refused = c.kubectl_with(&reader, &raw);
    assert!(
        refused.stderr.contains(&format!(
            "subjectaccessreviews.authorization.k8s.io is forbidden: User \"system:serviceaccount:{NS}:reader\" cannot create resource \"subjectaccessreviews\""
        )),
        "{}",
        refused.stderr
    );

    // The kubelet's API: the service account's token is reviewed, then refused.
    let bearer = format!("Authorization: Bearer {}", token.trim());
    let (code, body) = curl_kubelet(
        &c,
        &format!("/containerLogs/{NS}/talker/main"),
        &["-H", &bearer],
    );
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        body,
        format!(
            "Forbidden (user=system:serviceaccount:{NS}:reader, verb=get, resource=nodes, subresource(s)=[proxy])\n"
        )
    );
    let (code, body) = curl_kubelet(&c, "/stats/summary", &["-H", &bearer]);
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("subresource(s)=[stats]"), "{body}");
    let (code, _) = curl_kubelet(&c, "/healthz", &["-H", "Authorization: Bearer nonsense"]);
    assert_eq!(code, 401);
    let (code, _) = curl_kubelet(&c, "/healthz", &[]);
    assert_eq!(code, 401);

    // The admin's certificate gets through, and so does the API server's own.
    let pki = c.data_dir().join("pki");
    let (cert, key) = (pki.join("admin.crt"), pki.join("admin.key"));
    let admin_cert = [
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ];
    let (code, body) = curl_kubelet(&c, "/healthz", &admin_cert);
    assert_eq!((code, body.as_str()), (200, "ok"));
    assert!(
        true_within(ROLLOUT_TIMEOUT, || c
            .jsonpath(&["pod", "talker", "-n", NS], "{.status.phase}")
            == "Running"),
        "talker is not Running"
    );
    let (code, body) = curl_kubelet(&c, &format!("/containerLogs/{NS}/talker/main"), &admin_cert);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("hello from talker"), "{body}");
    let logs = c.ok(&["logs", "-n", NS, "talker"]);
    assert!(logs.contains("hello from talker"), "{logs}");
    let exec = c.ok(&[
        "exec",
        "-n",
        NS,
        "talker",
        "--",
        "echo",
        "through the API server",
    ]);
    assert_eq!(exec.trim(), "through the API server");
    // A service account may not reach the kubelet through the API server either.
    let log = format!("/api/v1/namespaces/{NS}/pods/talker/log");
    let proxied = c.kubectl_with(&reader, &["get", "--raw", &log]);
    assert!(!proxied.success());
    assert!(
        proxied.stderr.contains("cannot get resource \"pods/log\""),
        "{}",
        proxied.stderr
    );
    c.ok(&["delete", "namespace", NS, "--wait=false"]);
}
