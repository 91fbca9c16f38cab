//! DESIGN.md's network-safety rule for simulated nodes: their addresses are loopback and the
//! pod CIDRs they use are routed `unreachable` on the host while they run. These tests
//! change the host's routes (root only; CI runs as root), in ranges no other test uses, and
//! remove them when they end, also when they fail.

use k8s_openapi::api::core::v1::{Node, Pod};
use krust_kubelet::sim::{SimNodes, SimOptions};
use krust_testkit::{create, eventually, pod_json};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use std::time::Duration;

/// Whether this process may change the host's routes.
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// The host's `unreachable` route for `cidr`, as `ip` prints it (empty if none).
fn unreachable_route(cidr: &str) -> String {
    let out = std::process::Command::new("ip")
        .args(["route", "show", "type", "unreachable", cidr])
        .output()
        .expect("running ip");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Removes krust's routes for these ranges when dropped (when the test fails too).
struct RouteCleanup(&'static [&'static str]);

impl Drop for RouteCleanup {
    fn drop(&mut self) {
        for cidr in self.0 {
            let _ = std::process::Command::new("ip")
                .args(["route", "del", "unreachable", cidr, "proto", "107"])
                .output();
        }
    }
}

/// DESIGN.md's network safety: nothing sent to a sim pod or node leaves the host. A range
/// krust left routed (a killed process) is taken over and removed too. This test changes the
/// host's routes (root only; CI runs as root) in ranges no other test uses.
#[tokio::test]
async fn sim_pod_ranges_are_routed_unreachable_while_the_nodes_run() {
    if !is_root() {
        eprintln!("skipped: adding routes needs root");
        return;
    }
    const FRESH: &str = "10.42.250.0/24";
    const LEFT: &str = "10.42.251.0/24";
    let _cleanup = RouteCleanup(&[FRESH, LEFT]);
    let left = std::process::Command::new("ip")
        .args(["route", "add", "unreachable", LEFT, "proto", "107"])
        .status()
        .unwrap();
    assert!(left.success(), "could not add the left-behind route");
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let sim = SimNodes::start(
        client.clone(),
        SimOptions {
            count: 2,
            prefix: "routed".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let nodes: Api<Node> = Api::all(client.clone());
    for (node, cidr) in [("routed-0", FRESH), ("routed-1", LEFT)] {
        let patch = json!({"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}});
        nodes
            .patch(node, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .unwrap();
    }
    let node = nodes.get("routed-0").await.unwrap();
    let addresses = node.status.unwrap().addresses.unwrap();
    let node_ip: std::net::Ipv4Addr = addresses[0].address.parse().unwrap();
    assert!(node_ip.is_loopback(), "sim node address {node_ip}");

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for (name, node) in [("fresh", "routed-0"), ("left", "routed-1")] {
        let _: Pod = create(&client, "default", pod_json(name, json!({}), Some(node))).await;
    }
    let running = |name: &'static str| {
        let pods = pods.clone();
        eventually(Duration::from_secs(10), "a Running pod", move || {
            let pods = pods.clone();
            async move {
                let p = pods.get(name).await.ok()?;
                (p.status.as_ref()?.phase.as_deref() == Some("Running")).then_some(p)
            }
        })
    };
    let pod = running("fresh").await;
    running("left").await;
    let ip = pod.status.unwrap().pod_ip.unwrap();
    assert!(ip.starts_with("10.42.250."), "{ip}");
    assert!(!unreachable_route(FRESH).is_empty(), "no route for {FRESH}");
    // A client dialing the pod is refused at once, on this host.
    let dialed = std::net::TcpStream::connect_timeout(
        &format!("{ip}:80").parse().unwrap(),
        Duration::from_secs(5),
    );
    let err = dialed.expect_err("a sim pod accepted a connection");
    assert_ne!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");

    sim.shutdown().await;
    eventually(Duration::from_secs(10), "the routes removed", || async {
        (unreachable_route(FRESH).is_empty() && unreachable_route(LEFT).is_empty()).then_some(())
    })
    .await;
}
