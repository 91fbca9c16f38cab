//! How a Service's traffic is routed on a real node (root), as kube-proxy routes it:
//! `sessionAffinity: ClientIP` keeps a client on one pod until its timeout passes; an
//! `externalIPs` address leads to the pods; `internalTrafficPolicy: Local` sends only to the
//! node's own endpoints (a hand-written EndpointSlice puts one elsewhere); a pod reaches a
//! Service by its short name and by its full name through the cluster DNS; a terminating
//! pod that still serves keeps answering while no ready endpoint is left, and once it is
//! gone the Service refuses. Nothing for the cluster's ranges leaves the host.

mod real_node_support;

use std::collections::BTreeSet;
use std::time::Duration;

use krust_e2e::{Cluster, ROLLOUT_TIMEOUT, true_within};
use real_node_support::*;

/// A bare pod labelled `app=<app>` serving its own name on 8080, with `extra` spec lines.
fn web_pod(name: &str, app: &str, extra: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{app: {app}}}}}
spec:
{extra}  containers:
  - name: web
    image: {IMAGE}
    command: [sh, -c, "{SERVE_HOSTNAME}"]
"#
    )
}

/// The set of answers to `n` requests from the host.
fn host_answers(host: &str, port: u16, n: usize) -> BTreeSet<String> {
    (0..n).map(|_| from_host(host, port)).collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn pod_ip(c: &Cluster, pod: &str) -> String {
    c.jsonpath(&["pod", pod], "{.status.podIP}")
}

#[test]
fn affinity_external_ips_local_traffic_names_and_terminating_endpoints_route_as_kube_proxy_does() {
    let leaks = leak_check();
    let c = cluster();
    let node = c.node_name();
    let node_ip = node_ip(&c);
    // The externalIP is the node's own address: a port no other test's cluster uses there.
    let port = 18000 + krust_e2e::test_number() as u16;
    c.ok(&["run", "client", "--image", IMAGE, "--", "sleep", "3600"]);
    let quick = "  terminationGracePeriodSeconds: 1\n";
    // A pod whose preStop hook holds it in Terminating while it still serves.
    let held = "  terminationGracePeriodSeconds: 60\n";
    apply(
        &c,
        &[
            web_pod("pair-a", "pair", quick),
            web_pod("pair-b", "pair", quick),
            web_pod("slow", "slow", held).replace(
                "    command:",
                "    lifecycle: {preStop: {exec: {command: [sleep, \"50\"]}}}\n    command:",
            ),
        ]
        .join("---\n"),
    );
    for pod in ["client", "pair-a", "pair-b", "slow"] {
        wait_running(&c, pod);
    }
    let (a_ip, b_ip) = (pod_ip(&c, "pair-a"), pod_ip(&c, "pair-b"));
    apply(
        &c,
        &format!(
            r#"apiVersion: v1
kind: Service
metadata: {{name: sticky}}
spec:
  selector: {{app: pair}}
  ports: [{{port: {port}, targetPort: 8080}}]
  sessionAffinity: ClientIP
  sessionAffinityConfig: {{clientIP: {{timeoutSeconds: 2}}}}
  externalIPs: [{node_ip}]
---
apiVersion: v1
kind: Service
metadata: {{name: local-only}}
spec:
  internalTrafficPolicy: Local
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: local-only-1
  labels: {{kubernetes.io/service-name: local-only}}
addressType: IPv4
ports: [{{port: 8080, protocol: TCP}}]
endpoints:
- addresses: [{a_ip}]
  nodeName: {node}
  conditions: {{ready: true}}
- addresses: [{b_ip}]
  nodeName: krt-elsewhere
  conditions: {{ready: true}}
---
apiVersion: v1
kind: Service
metadata: {{name: slow}}
spec:
  selector: {{app: slow}}
  ports: [{{port: 80, targetPort: 8080}}]
"#
        ),
    );
    let pair = names(&["pair-a", "pair-b"]);

    // ClientIP affinity: one pod for every request of a client, from the host and a pod.
    let sticky_ip = c.jsonpath(&["service", "sticky"], "{.spec.clusterIP}");
    assert!(
        true_within(ROLLOUT_TIMEOUT, || pair
            .contains(&from_host(&sticky_ip, port))),
        "sticky never answered: {}",
        c.ok(&["get", "endpointslices", "-o", "wide"])
    );
    let stuck = host_answers(&sticky_ip, port, 10);
    assert_eq!(stuck.len(), 1, "from the host: {stuck:?}");
    let from_client: BTreeSet<String> = from_pod(&c, "client", &sticky_ip, port, 10)
        .into_iter()
        .collect();
    assert!(
        from_client.len() == 1 && pair.is_superset(&from_client),
        "from a pod: {from_client:?}"
    );
    // The externalIP (the node's address) leads to the same pods, sticking too.
    let external = host_answers(&node_ip, port, 10);
    assert!(
        external.len() == 1 && pair.is_superset(&external),
        "{node_ip}:{port}: {external:?}"
    );
    // Past the timeout (2 s without a request) a client may land on the other pod.
    let mut seen = stuck.clone();
    for _ in 0..15 {
        std::thread::sleep(Duration::from_millis(2500));
        seen.insert(from_host(&sticky_ip, port));
        if seen == pair {
            break;
        }
    }
    assert_eq!(seen, pair, "after the affinity's timeouts");

    // internalTrafficPolicy Local: only the endpoint on this node, from the host and a pod;
    // with Cluster, both.
    let local_ip = c.jsonpath(&["service", "local-only"], "{.spec.clusterIP}");
    let local = names(&["pair-a"]);
    assert!(
        true_within(Duration::from_secs(10), || host_answers(&local_ip, 80, 10)
            == local),
        "internalTrafficPolicy Local: {:?}",
        host_answers(&local_ip, 80, 10)
    );
    let from_client: BTreeSet<String> = from_pod(&c, "client", &local_ip, 80, 10)
        .into_iter()
        .collect();
    assert_eq!(from_client, local, "internalTrafficPolicy Local from a pod");
    c.ok(&[
        "patch",
        "service",
        "local-only",
        "-p",
        r#"{"spec":{"internalTrafficPolicy":"Cluster"}}"#,
    ]);
    assert!(
        true_within(Duration::from_secs(10), || host_answers(&local_ip, 80, 20)
            == pair),
        "internalTrafficPolicy Cluster: {:?}",
        host_answers(&local_ip, 80, 20)
    );

    // By name from a pod: the short name through the search path, and the full name.
    for name in ["slow", "slow.default.svc.cluster.local"] {
        let answers = from_pod(&c, "client", name, 80, 3);
        assert_eq!(answers, ["slow"; 3], "{name} from a pod");
    }

    // Terminating but serving: the only endpoint left keeps answering until it is gone.
    let slow_ip = c.jsonpath(&["service", "slow"], "{.spec.clusterIP}");
    c.ok(&["delete", "pod", "slow", "--wait=false"]);
    let terminating = || {
        c.jsonpath(
            &["endpointslices", "-l", "kubernetes.io/service-name=slow"],
            "{.items[0].endpoints[0].conditions}",
        )
    };
    assert!(
        true_within(Duration::from_secs(10), || {
            let now = terminating();
            now.contains(r#""ready":false"#) && now.contains(r#""terminating":true"#)
        }),
        "the endpoint never turned terminating: {}",
        terminating()
    );
    assert!(
        terminating().contains(r#""serving":true"#),
        "{}",
        terminating()
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        host_answers(&slow_ip, 80, 5),
        names(&["slow"]),
        "a terminating, serving endpoint while no ready one is left"
    );
    c.ok(&["delete", "pod", "slow", "--grace-period=0", "--force"]);
    let refused = || {
        std::net::TcpStream::connect_timeout(
            &format!("{slow_ip}:80").parse().unwrap(),
            Duration::from_secs(2),
        )
        .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
    };
    assert!(
        true_within(Duration::from_secs(15), refused),
        "the Service still answers after its last pod went"
    );

    assert_eq!(
        leaks.leaked(),
        0,
        "packets for the cluster's ranges left the host"
    );
    c.ok(&["delete", "service", "sticky", "local-only", "slow"]);
    c.ok(&["delete", "endpointslice", "local-only-1"]);
    remove_pods(&c);
}
