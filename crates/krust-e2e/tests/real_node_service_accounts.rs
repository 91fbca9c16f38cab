//! Service account tokens in pods on a real node (root only): the ServiceAccount admission
//! plugin's `kube-api-access-*` volume, the kubelet's bound token, the cluster CA and the
//! namespace at `/var/run/secrets/kubernetes.io/serviceaccount`; the token authenticates as
//! the pod's account until the pod is deleted; `automountServiceAccountToken: false` and a
//! missing account; a short-lived token refreshed in the pod's files before it expires.

mod real_node_support;

use real_node_support::{IMAGE, apply, cluster, sh, wait_running};

const DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

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
    let as_pod = c.token_kubeconfig("pod", token.trim());
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

/// The static kubectl binary this machine's `kubectl` runs (a dispatcher runs
/// `kubectl.<minor>` beside it), to be mounted into a pod.
fn static_kubectl() -> std::path::PathBuf {
    let out = std::process::Command::new("sh")
        .args(["-c", "readlink -f \"$(command -v kubectl)\""])
        .output()
        .expect("sh");
    let path = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let versioned = path.with_file_name("kubectl.1.32");
    if versioned.exists() { versioned } else { path }
}

#[test]
fn a_client_in_a_pod_reaches_the_api_as_its_service_account() {
    // The API server listens on every address, as kube-apiserver does, so that the
    // `kubernetes` Service leads pods to it.
    let c = real_node_support::cluster_with(&["--listen", "0.0.0.0:0"]);
    let kubectl = static_kubectl();
    apply(
        &c,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: in-cluster}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: {IMAGE}
    command: [sleep, "3600"]
    volumeMounts: [{{name: kubectl, mountPath: /bin/kubectl, readOnly: true}}]
  volumes: [{{name: kubectl, hostPath: {{path: {}, type: File}}}}]
"#,
            kubectl.display()
        ),
    );
    wait_running(&c, "in-cluster");
    // kubectl's in-cluster configuration: KUBERNETES_SERVICE_HOST/PORT, the token and CA.
    let who = sh(&c, "in-cluster", "kubectl auth whoami 2>&1; true");
    assert!(
        who.contains("system:serviceaccount:default:default"),
        "in-cluster kubectl: {who}"
    );
    // What this identity may see and do (a SelfSubjectRulesReview): discovery and asking
    // about itself, nothing of the namespace's objects.
    let may = sh(&c, "in-cluster", "kubectl auth can-i --list 2>&1; true");
    for rule in [
        "selfsubjectaccessreviews.authorization.k8s.io",
        "selfsubjectrulesreviews.authorization.k8s.io",
        "[/api/*]",
        "[/version]",
    ] {
        assert!(
            may.contains(rule),
            "{rule} in kubectl auth can-i --list: {may}"
        );
    }
    assert!(!may.lines().any(|l| l.starts_with("pods ")), "{may}");
    let pods = sh(&c, "in-cluster", "kubectl get pods 2>&1; true");
    assert!(
        pods.contains(r#"pods is forbidden: User "system:serviceaccount:default:default" cannot list resource "pods" in API group "" in the namespace "default""#),
        "{pods}"
    );
}

/// The `exp` claim of a JWT.
fn expiry(token: &str) -> i64 {
    use base64::Engine;
    let payload = token.trim().split('.').nth(1).expect("a JWT");
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    let claims: serde_json::Value = serde_json::from_slice(&claims).expect("JSON claims");
    claims["exp"].as_i64().expect("exp")
}

/// The kubelet requests a token again once 80% of its life has passed and rewrites the
/// projected file; the shortest lifetime Kubernetes allows is ten minutes, so this test
/// waits eight (it runs beside the others).
#[test]
fn a_short_lived_token_is_refreshed_in_the_pod_before_it_expires() {
    let c = cluster();
    apply(
        &c,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: short-lived}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: {IMAGE}
    command: [sleep, "3600"]
    volumeMounts: [{{name: token, mountPath: /token}}]
  volumes:
  - name: token
    projected:
      sources:
      - serviceAccountToken: {{path: token, expirationSeconds: 600}}
"#
        ),
    );
    wait_running(&c, "short-lived");
    let first = sh(&c, "short-lived", "cat /token/token");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    let second = loop {
        let now = sh(&c, "short-lived", "cat /token/token");
        if now != first {
            break now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the token was not refreshed within its lifetime"
        );
        std::thread::sleep(std::time::Duration::from_secs(10));
    };
    let (old, new) = (expiry(&first), expiry(&second));
    assert!(
        (new - old) >= 470,
        "the new token lives on from its refresh: exp {old} → {new}"
    );
    let as_pod = c.token_kubeconfig("refreshed", second.trim());
    let who = c.kubectl_with(&as_pod, &["auth", "whoami"]);
    assert!(who.success(), "{}", who.stderr);
    assert!(who.stdout.contains("short-lived"), "{}", who.stdout);
}
