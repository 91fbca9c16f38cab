//! gRPC probes on a real node (root): the test serves the standard health service
//! (`grpc.health.v1.Health/Check` over HTTP/2 without TLS) on the node's address, and pods in
//! the host's network (whose pod IP is the node's) are probed against it: `SERVING` makes a
//! pod Ready, `NOT_SERVING` for a named service keeps another unready with the kubelet's
//! Event. (The offline busybox image has no gRPC server of its own.)

mod real_node_support;

use krust_e2e::{Cluster, ROLLOUT_TIMEOUT, true_within};
use real_node_support::*;

/// A health service on `ip`: SERVING for the server (an empty request), NOT_SERVING for a
/// named service. Returns its port; it serves as long as `runtime` lives.
fn health_server(runtime: &tokio::runtime::Runtime, ip: &str) -> u16 {
    use http_body_util::{BodyExt, Full};
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind((ip, 0)))
        .expect("bind the health server");
    let port = listener.local_addr().expect("port").port();
    runtime.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = hyper::service::service_fn(
                |req: hyper::Request<hyper::body::Incoming>| async move {
                    let body = req.into_body().collect().await?.to_bytes();
                    // A gRPC message: 5 bytes of framing, then HealthCheckRequest.
                    let status = if body.len() > 5 { 2 } else { 1 };
                    let answer = bytes::Bytes::from(vec![0, 0, 0, 0, 2, 0x08, status]);
                    Ok::<_, hyper::Error>(
                        hyper::Response::builder()
                            .header("content-type", "application/grpc")
                            .header("grpc-status", "0")
                            .body(Full::new(answer))
                            .expect("a response"),
                    )
                },
            );
            let io = hyper_util::rt::TokioIo::new(stream);
            tokio::spawn(
                hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(io, service),
            );
        }
    });
    port
}

fn probed(name: &str, port: u16, service: Option<&str>) -> String {
    let service = service
        .map(|s| format!(", service: {s}"))
        .unwrap_or_default();
    format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: {IMAGE}
    command: [sleep, "3600"]
    readinessProbe:
      grpc: {{port: {port}{service}}}
      periodSeconds: 1
"#
    )
}

fn ready(c: &Cluster, pod: &str) -> String {
    c.jsonpath(
        &["pod", pod],
        "{.status.conditions[?(@.type==\"Ready\")].status}",
    )
}

#[test]
fn a_grpc_readiness_probe_asks_the_standard_health_service() {
    let c = cluster();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let port = health_server(&runtime, &node_ip(&c));
    apply(
        &c,
        &format!(
            "{}---\n{}",
            probed("serving", port, None),
            probed("not-serving", port, Some("db"))
        ),
    );
    wait_running(&c, "serving");
    wait_running(&c, "not-serving");
    assert!(
        true_within(ROLLOUT_TIMEOUT, || ready(&c, "serving") == "True"),
        "{}",
        c.ok(&["describe", "pod", "serving"])
    );
    assert!(
        event_within(
            &c,
            "not-serving",
            &[
                "Readiness probe failed",
                "service unhealthy (responded with \"NOT_SERVING\")"
            ]
        ),
        "{}",
        events(&c, "not-serving")
    );
    assert_eq!(ready(&c, "not-serving"), "False");
}
