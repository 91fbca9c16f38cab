//! Service account tokens with the real kubectl: `kubectl create token` (the TokenRequest
//! API), the token as a bearer credential (`kubectl auth whoami`, Kubernetes' Forbidden
//! message for what the account may not do), tokens bound to a pod dying with it, TokenReview,
//! and the issuer's OIDC documents.

use std::time::Duration;

use krust_e2e::{Cluster, true_within};
use serde_json::Value;

/// Waits for the service account controller's `default` account.
fn default_account(c: &Cluster) {
    assert!(
        true_within(Duration::from_secs(20), || c
            .kubectl(&["get", "serviceaccount", "default"])
            .success()),
        "no default service account"
    );
}

#[test]
fn a_requested_token_authenticates_as_its_service_account() {
    let c = Cluster::start_with(&[]);
    default_account(&c);
    let token = c.ok(&["create", "token", "default", "--duration=15m"]);
    let token = token.trim();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let as_account = c.token_kubeconfig("sa", token);

    let who = c.kubectl_with(&as_account, &["auth", "whoami", "-o", "json"]);
    assert!(who.success(), "{}", who.stderr);
    let review: Value = serde_json::from_str(&who.stdout).unwrap();
    let info = &review["status"]["userInfo"];
    assert_eq!(info["username"], "system:serviceaccount:default:default");
    let uid = c.jsonpath(&["serviceaccount", "default"], "{.metadata.uid}");
    assert_eq!(info["uid"], uid.as_str());
    let groups: Vec<&str> = info["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        groups,
        [
            "system:serviceaccounts",
            "system:serviceaccounts:default",
            "system:authenticated"
        ]
    );

    // What RBAC would decide is not granted yet: Kubernetes' words for the refusal.
    let pods = c.kubectl_with(&as_account, &["get", "pods"]);
    assert!(!pods.success());
    assert!(
        pods.stderr.contains(
            r#"pods is forbidden: User "system:serviceaccount:default:default" cannot list resource "pods" in API group "" in the namespace "default""#
        ),
        "{}",
        pods.stderr
    );

    // The issuer's documents, readable with the token.
    let config = c.kubectl_with(
        &as_account,
        &["get", "--raw", "/.well-known/openid-configuration"],
    );
    assert!(config.success(), "{}", config.stderr);
    let config: Value = serde_json::from_str(&config.stdout).unwrap();
    assert_eq!(
        config["issuer"],
        "https://kubernetes.default.svc.cluster.local"
    );
    let jwks: Value = serde_json::from_str(&c.ok(&["get", "--raw", "/openid/v1/jwks"])).unwrap();
    let header = token.split('.').next().unwrap();
    use base64::Engine;
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(jwks["keys"][0]["kid"], header["kid"], "{jwks}");
    assert_eq!(header["alg"], "ES256");

    // A token the server did not sign, or one changed, is refused.
    let forged = format!("{}x", &token[..token.len() - 1]);
    let forged = c.token_kubeconfig("forged", &forged);
    let out = c.kubectl_with(&forged, &["auth", "whoami"]);
    assert!(!out.success());
    assert!(
        out.stderr.contains("Unauthorized") || out.stderr.contains("logged in"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_token_bound_to_a_pod_dies_with_the_pod() {
    let c = Cluster::start_with(&["--sim-nodes", "1"]);
    default_account(&c);
    c.ok(&["run", "web", "--image=nginx", "--restart=Never"]);
    let token = c.ok(&[
        "create",
        "token",
        "default",
        "--bound-object-kind=Pod",
        "--bound-object-name=web",
    ]);
    let as_pod = c.token_kubeconfig("bound", token.trim());
    let who = c.kubectl_with(
        &as_pod,
        &["auth", "whoami", "-o", "jsonpath={.status.userInfo.extra}"],
    );
    assert!(who.success(), "{}", who.stderr);
    let pod_uid = c.jsonpath(&["pod", "web"], "{.metadata.uid}");
    assert!(who.stdout.contains(&pod_uid), "{}", who.stdout);
    assert!(
        who.stdout.contains("authentication.kubernetes.io/pod-name"),
        "{}",
        who.stdout
    );

    // A token for an account other than the pod's, or a pod that is not there, is refused.
    let other = c.kubectl(&["create", "token", "nobody"]);
    assert!(!other.success());
    assert!(
        other
            .stderr
            .contains(r#"serviceaccounts "nobody" not found"#),
        "{}",
        other.stderr
    );
    let short = c.kubectl(&["create", "token", "default", "--duration=1m"]);
    assert!(!short.success());
    assert!(
        short
            .stderr
            .contains("may not specify a duration less than 10 minutes"),
        "{}",
        short.stderr
    );

    c.ok(&[
        "delete",
        "pod",
        "web",
        "--grace-period=0",
        "--force",
        "--wait=true",
    ]);
    let out = c.kubectl_with(&as_pod, &["auth", "whoami"]);
    assert!(
        !out.success(),
        "a dead pod's token still works: {}",
        out.stdout
    );
}

#[test]
fn a_token_review_says_whose_a_token_is() {
    let c = Cluster::start_with(&[]);
    default_account(&c);
    let token = c.ok(&["create", "token", "default"]);
    let review = |token: &str| -> Value {
        let body = format!(
            r#"{{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {{"token": "{token}"}}}}"#
        );
        let path = c.write_file("review.json", body);
        // `create --raw`: kubectl's `create -f` would first list CRDs, which krust does not
        // serve yet, to decide whether it may validate a kind that has no PATCH.
        let out = c.ok(&[
            "create",
            "--raw",
            "/apis/authentication.k8s.io/v1/tokenreviews",
            "-f",
            path.to_str().unwrap(),
        ]);
        serde_json::from_str(&out).unwrap()
    };
    let good = review(token.trim());
    assert_eq!(good["status"]["authenticated"], true, "{good}");
    assert_eq!(
        good["status"]["user"]["username"],
        "system:serviceaccount:default:default"
    );
    let bad = review("abc.def.ghi");
    assert_ne!(bad["status"]["authenticated"], true, "{bad}");
    assert!(bad["status"]["error"].as_str().is_some(), "{bad}");
}
