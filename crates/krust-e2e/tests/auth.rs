//! Authentication (client certificates; unknown bearer tokens refused), the open health and
//! version endpoints, metrics.

use krust_e2e::{Cluster, KUBECTL_TIMEOUT, run_with_timeout};
use std::process::Command;

/// `curl -sk` without any credential: the status code, then the body.
fn curl(c: &Cluster, path: &str) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-sk", "-w", "\n%{http_code}"])
        .arg(format!("{}{path}", c.url()));
    let out = run_with_timeout(cmd, KUBECTL_TIMEOUT);
    assert!(out.success(), "curl (needed by this test) failed: {out:?}");
    let (body, code) = out.stdout.rsplit_once('\n').expect("status line");
    (code.trim().parse().expect("HTTP status"), body.to_string())
}

#[test]
fn unknown_credentials_are_unauthorized() {
    let c = Cluster::start();
    let stranger = c.token_kubeconfig("stranger", "not-a-known-token");

    // With discovery not cached yet, kubectl fails while discovering.
    let out = c.kubectl_with(&stranger, &["get", "pods"]);
    assert!(!out.success());
    assert_eq!(
        out.stderr.lines().last(),
        Some(
            "error: You must be logged in to the server (the server has asked for the client to provide credentials)"
        ),
        "{}",
        out.stderr
    );

    // With discovery cached (by the admin, same cache dir), the request itself is refused
    // and kubectl prints the Status message.
    c.ok(&["get", "pods"]);
    let out = c.kubectl_with(&stranger, &["get", "pods"]);
    assert!(!out.success());
    assert_eq!(
        out.stderr.trim_end(),
        "error: You must be logged in to the server (Unauthorized)"
    );
    let out = c.kubectl_with(&stranger, &["run", "intruder", "--image=nginx"]);
    assert!(!out.success());
    assert_eq!(
        out.stderr.trim_end(),
        "error: You must be logged in to the server (Unauthorized)"
    );
    let err = c.fails(&["get", "pod", "intruder"]);
    assert_eq!(
        err.trim_end(),
        "Error from server (NotFound): pods \"intruder\" not found"
    );
}

#[test]
fn no_credentials_at_all_is_unauthorized_except_health_and_version() {
    let c = Cluster::start();
    let (code, body) = curl(&c, "/api/v1/namespaces/default/pods");
    assert_eq!(code, 401, "{body}");
    let status: serde_json::Value = serde_json::from_str(&body).expect("a Status");
    assert_eq!(status["kind"], "Status", "{body}");
    assert_eq!(status["apiVersion"], "v1", "{body}");
    assert_eq!(status["status"], "Failure", "{body}");
    assert_eq!(status["reason"], "Unauthorized", "{body}");
    assert_eq!(status["code"], 401, "{body}");
    for path in [
        "/api",
        "/apis",
        "/metrics",
        "/openapi/v3",
        "/api/v1/namespaces",
    ] {
        assert_eq!(curl(&c, path).0, 401, "{path}");
    }
    assert_eq!(curl(&c, "/healthz"), (200, "ok".to_string()));
    assert_eq!(curl(&c, "/livez"), (200, "ok".to_string()));
    assert_eq!(curl(&c, "/readyz"), (200, "ok".to_string()));
    let (code, body) = curl(&c, "/version");
    assert_eq!(code, 200, "{body}");
    let version: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(version["major"], "1", "{body}");
    assert_eq!(version["minor"], "32", "{body}");
}

#[test]
fn health_and_version_through_kubectl() {
    let c = Cluster::start();
    assert_eq!(c.ok(&["get", "--raw", "/healthz"]), "ok");
    assert_eq!(c.ok(&["get", "--raw", "/readyz"]), "ok");
    assert_eq!(c.ok(&["get", "--raw", "/livez"]), "ok");
    let version: serde_json::Value =
        serde_json::from_str(&c.ok(&["get", "--raw", "/version"])).unwrap();
    assert_eq!(version["major"], "1");
    assert_eq!(version["minor"], "32");
    assert!(
        version["gitVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("v1.32")),
        "{version}"
    );
}

#[test]
fn metrics_count_requests_and_show_the_store_revision() {
    let c = Cluster::start();
    c.ok(&["run", "nginx", "--image=nginx"]);
    c.ok(&["get", "pods"]);
    let text = c.ok(&["get", "--raw", "/metrics"]);
    let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    let created = samples
        .iter()
        .find(|l| {
            l.starts_with("apiserver_request_total{")
                && l.contains("verb=\"create\"")
                && l.contains("resource=\"pods\"")
                && l.contains("code=\"201\"")
        })
        .unwrap_or_else(|| {
            panic!("no apiserver_request_total sample for the pod create in\n{text}")
        });
    assert_eq!(created.rsplit(' ').next(), Some("1"), "{created}");
    assert!(
        samples
            .iter()
            .any(|l| l.starts_with("apiserver_request_total{") && l.contains("verb=\"list\"")),
        "{text}"
    );
    let revision: i64 = samples
        .iter()
        .find_map(|l| l.strip_prefix("krust_store_revision "))
        .unwrap_or_else(|| panic!("no krust_store_revision in\n{text}"))
        .trim()
        .parse()
        .expect("an integer revision");
    let pod_rv: i64 = c
        .jsonpath(&["pod", "nginx"], "{.metadata.resourceVersion}")
        .parse()
        .unwrap();
    assert!(
        revision >= pod_rv,
        "store revision {revision} < pod resourceVersion {pod_rv}"
    );
    assert!(
        text.contains("# TYPE apiserver_request_duration_seconds histogram"),
        "{text}"
    );
}
