//! Tests of the policy model (`model.rs`): which connections a set of policies admits, on a
//! node `n1` with pods of two namespaces and a peer on another node.

use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::{Value, json};

use super::model::{Plan, build, merge};
use crate::proxy::L4::{self, Sctp, Tcp, Udp};

const SERVER: &str = "10.42.0.10";
const CLIENT: &str = "10.42.0.11";
const STRANGER: &str = "10.42.0.12";
const FAR_CLIENT: &str = "10.42.1.20";
const FAR_WEB: &str = "10.42.1.21";
const OUTSIDE: &str = "192.168.5.5";

fn pod(ns: &str, name: &str, node: &str, ip: &str, labels: Value, ports: Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"namespace": ns, "name": name, "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i", "ports": ports}]},
        "status": {"phase": "Running", "podIP": ip}
    }))
    .unwrap()
}

fn world() -> (Vec<Pod>, Vec<Namespace>) {
    let pods = vec![
        pod(
            "app",
            "server",
            "n1",
            SERVER,
            json!({"app": "server"}),
            json!([
            {"name": "http", "containerPort": 80},
            {"name": "dns", "containerPort": 53, "protocol": "UDP"}]),
        ),
        pod(
            "app",
            "client",
            "n1",
            CLIENT,
            json!({"role": "client"}),
            json!([]),
        ),
        pod(
            "app",
            "stranger",
            "n1",
            STRANGER,
            json!({"role": "none"}),
            json!([]),
        ),
        pod(
            "other",
            "far",
            "n2",
            FAR_CLIENT,
            json!({"role": "client"}),
            json!([]),
        ),
        pod(
            "other",
            "web",
            "n2",
            FAR_WEB,
            json!({"app": "web"}),
            json!([
            {"name": "http", "containerPort": 8080}]),
        ),
    ];
    let namespaces = ["app", "other"]
        .iter()
        .map(|n| {
            serde_json::from_value(json!({"metadata": {"name": n, "labels": {"team": n}}})).unwrap()
        })
        .collect();
    (pods, namespaces)
}

fn plan(policies: Value) -> Plan {
    let (pods, namespaces) = world();
    let policies: Vec<NetworkPolicy> = serde_json::from_value(policies).unwrap();
    build("n1", &policies, &pods, &namespaces)
}

fn policy(name: &str, spec: Value) -> Value {
    json!({"metadata": {"namespace": "app", "name": name}, "spec": spec})
}

/// Checks each `(from, to, protocol, port, admitted)`.
fn check(plan: &Plan, table: &[(&str, &str, L4, u16, bool)]) {
    for (from, to, protocol, port, admitted) in table {
        let (src, dst): (Ipv4Addr, Ipv4Addr) = (from.parse().unwrap(), to.parse().unwrap());
        assert_eq!(
            plan.admits(src, dst, *protocol, *port),
            *admitted,
            "{from} -> {to} {protocol:?}/{port} in {plan:#?}"
        );
    }
}

#[test]
fn without_policies_everything_is_admitted() {
    let p = plan(json!([]));
    assert!(p.targets.is_empty());
    check(
        &p,
        &[
            (CLIENT, SERVER, Tcp, 80, true),
            (SERVER, OUTSIDE, Udp, 53, true),
        ],
    );
}

#[test]
fn a_policy_without_rules_denies_ingress_to_the_pods_it_selects_only() {
    let p = plan(json!([policy(
        "deny",
        json!({"podSelector": {"matchLabels": {"app": "server"}}})
    )]));
    check(
        &p,
        &[
            (CLIENT, SERVER, Tcp, 80, false),
            (FAR_CLIENT, SERVER, Udp, 53, false),
            (SERVER, CLIENT, Tcp, 80, true),
            (SERVER, OUTSIDE, Tcp, 443, true),
            (CLIENT, STRANGER, Tcp, 80, true),
        ],
    );
}

#[test]
fn a_pod_selector_admits_matching_pods_of_the_policy_s_namespace() {
    let p = plan(json!([policy(
        "from-clients",
        json!({"podSelector": {"matchLabels": {"app": "server"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}]}]})
    )]));
    check(
        &p,
        &[
            (CLIENT, SERVER, Tcp, 80, true),
            (STRANGER, SERVER, Tcp, 80, false),
            (FAR_CLIENT, SERVER, Tcp, 80, false),
            (OUTSIDE, SERVER, Tcp, 80, false),
        ],
    );
}

#[test]
fn a_namespace_selector_alone_admits_every_pod_of_matching_namespaces() {
    let p = plan(json!([policy(
        "from-other",
        json!({"podSelector": {},
        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "other"}}}]}]})
    )]));
    check(
        &p,
        &[
            (FAR_CLIENT, SERVER, Tcp, 80, true),
            (FAR_WEB, CLIENT, Tcp, 80, true),
            (CLIENT, SERVER, Tcp, 80, false),
        ],
    );
}

#[test]
fn both_selectors_in_one_peer_must_both_match() {
    let p = plan(json!([policy(
        "and",
        json!({"podSelector": {"matchLabels": {"app": "server"}},
        "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"role": "client"}}}]}]})
    )]));
    check(
        &p,
        &[
            (FAR_CLIENT, SERVER, Tcp, 80, true),
            (CLIENT, SERVER, Tcp, 80, true),
            (FAR_WEB, SERVER, Tcp, 80, false),
            (STRANGER, SERVER, Tcp, 80, false),
        ],
    );
}

#[test]
fn an_ip_block_admits_its_range_except_the_holes() {
    let p = plan(json!([policy(
        "block",
        json!({"podSelector": {"matchLabels": {"app": "server"}},
        "ingress": [{"from": [{"ipBlock": {"cidr": "10.42.0.0/16", "except": ["10.42.0.11/32", "10.42.1.0/24"]}}]}]})
    )]));
    check(
        &p,
        &[
            (STRANGER, SERVER, Tcp, 80, true),
            (CLIENT, SERVER, Tcp, 80, false),
            (FAR_CLIENT, SERVER, Tcp, 80, false),
            (OUTSIDE, SERVER, Tcp, 80, false),
        ],
    );
    let set = p.sets.values().next().unwrap();
    assert_eq!(set.len(), 3, "three pieces left: {set:?}");
}

#[test]
fn ports_admit_their_protocol_number_range_and_name_only() {
    let p = plan(json!([policy(
        "ports",
        json!({"podSelector": {"matchLabels": {"app": "server"}},
        "ingress": [{"ports": [{"port": 8000, "endPort": 8010}, {"protocol": "UDP", "port": "dns"},
                               {"protocol": "SCTP"}, {"port": "missing"}]}]})
    )]));
    check(
        &p,
        &[
            (CLIENT, SERVER, Tcp, 8000, true),
            (CLIENT, SERVER, Tcp, 8010, true),
            (CLIENT, SERVER, Tcp, 8011, false),
            (CLIENT, SERVER, Udp, 8005, false),
            (CLIENT, SERVER, Udp, 53, true),
            (CLIENT, SERVER, Tcp, 53, false),
            (CLIENT, SERVER, Sctp, 9999, true),
            (CLIENT, SERVER, Tcp, 80, false),
        ],
    );
}

#[test]
fn a_named_port_that_resolves_nowhere_admits_nothing() {
    let p = plan(json!([policy(
        "nothing",
        json!({"podSelector": {"matchLabels": {"role": "client"}},
        "ingress": [{"ports": [{"port": "http"}]}]})
    )]));
    check(&p, &[(SERVER, CLIENT, Tcp, 80, false)]);
}

#[test]
fn any_policy_admitting_is_enough() {
    let deny = policy("deny", json!({"podSelector": {}}));
    let web = policy(
        "web",
        json!({"podSelector": {"matchLabels": {"app": "server"}},
        "ingress": [{"ports": [{"port": 80}]}]}),
    );
    let p = plan(json!([deny, web]));
    check(
        &p,
        &[
            (STRANGER, SERVER, Tcp, 80, true),
            (STRANGER, SERVER, Tcp, 81, false),
            (SERVER, STRANGER, Tcp, 80, false),
        ],
    );
}

#[test]
fn egress_isolation_comes_from_policy_types_or_egress_rules() {
    let only_egress_rules = policy(
        "e",
        json!({"podSelector": {"matchLabels": {"role": "client"}},
        "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "server"}}}], "ports": [{"port": "http"}]},
                   {"ports": [{"protocol": "UDP", "port": 53}]}]}),
    );
    let p = plan(json!([only_egress_rules]));
    check(
        &p,
        &[
            (CLIENT, SERVER, Tcp, 80, true),
            (CLIENT, SERVER, Tcp, 81, false),
            (CLIENT, OUTSIDE, Udp, 53, true),
            (CLIENT, OUTSIDE, Tcp, 443, false),
            // Defaulted types isolate ingress too, with no ingress rule.
            (STRANGER, CLIENT, Tcp, 80, false),
        ],
    );
    let egress_only = policy(
        "deny-out",
        json!({"podSelector": {}, "policyTypes": ["Egress"]}),
    );
    check(
        &plan(json!([egress_only])),
        &[
            (CLIENT, SERVER, Tcp, 80, false),
            (FAR_CLIENT, SERVER, Tcp, 80, true),
        ],
    );
}

#[test]
fn egress_named_ports_resolve_on_each_destination() {
    let p = plan(json!([policy(
        "to-http",
        json!({"podSelector": {"matchLabels": {"role": "client"}},
        "policyTypes": ["Egress"], "egress": [{"ports": [{"port": "http"}]}]})
    )]));
    check(
        &p,
        &[
            (CLIENT, SERVER, Tcp, 80, true),
            (CLIENT, FAR_WEB, Tcp, 8080, true),
            (CLIENT, FAR_WEB, Tcp, 80, false),
            (CLIENT, SERVER, Tcp, 8080, false),
        ],
    );
}

#[test]
fn pods_of_other_nodes_are_peers_but_never_targets() {
    let p = plan(
        json!([{"metadata": {"namespace": "other", "name": "deny"}, "spec": {"podSelector": {}}}]),
    );
    assert!(p.targets.is_empty());
}

#[test]
fn adjacent_and_overlapping_ranges_merge() {
    assert_eq!(
        merge(vec![(5, 9), (1, 2), (3, 4), (20, 30), (25, 26)]),
        [(1, 9), (20, 30)]
    );
}
