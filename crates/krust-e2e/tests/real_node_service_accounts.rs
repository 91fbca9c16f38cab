//! Service account tokens in pods on a real node (root only): the ServiceAccount admission
//! plugin's `kube-api-access-*` volume, the kubelet's bound token, the cluster CA and the
//! namespace at `/var/run/secrets/kubernetes.io/serviceaccount`; the token authenticates as
//! the pod's account until the pod is deleted; `automountServiceAccountToken: false` and a
//! missing account.

mod real_node_support;

use krust_e2e::Cluster;
use real_node_support::{IMAGE, apply, cluster, sh, wait_running};

const DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// A kubeconfig for the same server that presents `token` and no certificate.
fn token_kubeconfig(c: &Cluster, token: &str) -> std::path::PathBuf {
    let config = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: krust\n  cluster:\n    server: {}\n    \
         insecure-skip-tls-verify: true\nusers:\n- name: pod\n  user:\n    token: {token}\n\
         contexts:\n- name: pod\n  context:\n    cluster: krust\n    user: pod\n\
         current-context: pod\n",
        c.url()
    );
    c.write_file("pod.kubeconfig", config)
}

#[test]
fn a_pod_reads_its_bound_token_the_cluster_ca_and_its_namespace() {
    let c = cluster();
    apply(
        &c,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: client}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: main, image: {IMAGE}, command: [sleep, "3600"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: opted-out}}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: main, image: {IMAGE}, command: [sleep, "3600"]}}
"#
        ),
    );
    wait_running(&c, "client");
    let volume = c.jsonpath(&["pod", "client"], "{.spec.volumes[0].name}");
    assert!(volume.starts_with("kube-api-access-"), "{volume}");
    let files = sh(&c, "client", &format!("ls {DIR}"));
    for f in ["ca.crt", "namespace", "token"] {
        assert!(files.contains(f), "{f} missing: {files}");
    }
    assert_eq!(
        sh(&c, "client", &format!("cat {DIR}/namespace")).trim(),
        "default"
    );
    let ca = std::fs::read_to_string(c.data_dir().join("pki/ca.crt")).unwrap();
    assert_eq!(
        sh(&c, "client", &format!("cat {DIR}/ca.crt")).trim(),
        ca.trim()
    );
    let env = sh(&c, "client", "env");
    assert!(env.contains("KUBERNETES_SERVICE_HOST="), "{env}");

    // The token is the pod's account's, bound to the pod.
    let token = sh(&c, "client", &format!("cat {DIR}/token"));
    let as_pod = token_kubeconfig(&c, token.trim());
    let who = c.kubectl_with(&as_pod, &["auth", "whoami"]);
    assert!(who.success(), "{}", who.stderr);
    assert!(
        who.stdout.contains("system:serviceaccount:default:default"),
        "{}",
        who.stdout
    );
    assert!(
        who.stdout.contains("client"),
        "the pod's name: {}",
        who.stdout
    );

    wait_running(&c, "opted-out");
    let volumes = c.jsonpath(&["pod", "opted-out"], "{.spec.volumes}");
    assert_eq!(volumes, "", "no token volume when opted out");

    c.ok(&["delete", "pod", "client", "--wait=true"]);
    let out = c.kubectl_with(&as_pod, &["auth", "whoami"]);
    assert!(!out.success(), "a deleted pod's token still works");

    // A pod running as an account that does not exist is refused, as Kubernetes does.
    let missing = c.write_file(
        "missing.yaml",
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: lost}}\nspec:\n  serviceAccountName: ghost\n  \
             containers:\n  - {{name: main, image: {IMAGE}}}\n"
        ),
    );
    let out = c.kubectl(&["apply", "-f", missing.to_str().unwrap()]);
    assert!(!out.success());
    assert!(
        out.stderr.contains(
            r#"error looking up service account default/ghost: serviceaccount "ghost" not found"#
        ),
        "{}",
        out.stderr
    );
}
