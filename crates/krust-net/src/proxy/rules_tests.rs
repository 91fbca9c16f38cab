//! The rules for Services and EndpointSlices, and the transactions between two rulesets.

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::{Value, json};

use super::rules::{Node, build};
use super::ruleset::Ruleset;

fn node() -> Node {
    Node {
        table: "krust-proxy-krt-br".into(),
        name: "n1".into(),
        cluster_cidr: "10.42.0.0/16".parse().unwrap(),
        service_cidr: "10.43.0.0/16".parse().unwrap(),
    }
}

fn service(name: &str, spec: Value) -> Service {
    let mut spec = spec;
    if spec.get("clusterIP").is_none() {
        spec["clusterIP"] = json!("10.43.0.10");
    }
    if spec.get("ports").is_none() {
        spec["ports"] = json!([{"name": "http", "port": 80, "protocol": "TCP"}]);
    }
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }))
    .unwrap()
}

/// An endpoint: address, node, ready, serving, terminating.
type Ep<'a> = (&'a str, &'a str, bool, bool, bool);

fn slice(service: &str, port: Value, endpoints: &[Ep]) -> EndpointSlice {
    let endpoints: Vec<Value> = endpoints
        .iter()
        .map(|(ip, node, ready, serving, terminating)| {
            json!({"addresses": [ip], "nodeName": node,
                "conditions": {"ready": ready, "serving": serving, "terminating": terminating}})
        })
        .collect();
    serde_json::from_value(json!({
        "metadata": {"name": format!("{service}-abc"), "namespace": "default",
            "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "ports": [port],
        "endpoints": endpoints,
    }))
    .unwrap()
}

fn http(port: u16) -> Value {
    json!({"name": "http", "port": port, "protocol": "TCP"})
}

fn ready(ip: &str) -> Ep<'_> {
    (ip, "n1", true, true, false)
}

fn rules(services: &[Service], slices: &[EndpointSlice]) -> Ruleset {
    let slices: Vec<&EndpointSlice> = slices.iter().collect();
    build(&node(), services, &slices)
}

fn element<'a>(rs: &'a Ruleset, map: &str, key: &str) -> Option<&'a str> {
    rs.sets[map].elements.get(key).map(String::as_str)
}

fn chain_of<'a>(rs: &'a Ruleset, prefix: &str) -> (&'a String, &'a Vec<String>) {
    let found: Vec<_> = rs
        .chains
        .iter()
        .filter(|(n, _)| n.starts_with(prefix) && n.contains('/'))
        .collect();
    assert_eq!(found.len(), 1, "one chain {prefix}…: {}", rs.render());
    (found[0].0, &found[0].1.rules)
}

#[test]
fn a_cluster_ip_picks_one_of_its_ready_endpoints_at_random() {
    let svc = service("web", json!({}));
    let eps = slice(
        "web",
        http(8080),
        &[
            ready("10.42.0.5"),
            ready("10.42.0.6"),
            ("10.42.0.7", "n1", false, false, false),
        ],
    );
    let rs = rules(&[svc], &[eps]);
    let (chain, rules) = chain_of(&rs, "service-");
    assert!(chain.ends_with("-default/web/tcp/http"), "{chain}");
    assert_eq!(
        element(&rs, "service-ips", "10.43.0.10 . tcp . 80"),
        Some(format!("goto {chain}").as_str())
    );
    assert_eq!(
        rules[0],
        "ip daddr 10.43.0.10 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade"
    );
    assert!(rules[1].starts_with("numgen random mod 2 vmap { 0 : goto endpoint-"));
    let endpoints: Vec<&Vec<String>> = rs
        .chains
        .iter()
        .filter(|(n, _)| n.starts_with("endpoint-"))
        .map(|(_, c)| &c.rules)
        .collect();
    assert_eq!(endpoints.len(), 2);
    assert_eq!(
        *endpoints[0],
        [
            "ip saddr 10.42.0.5 jump mark-for-masquerade",
            "meta l4proto tcp dnat to 10.42.0.5:8080"
        ]
    );
    assert!(rs.sets["cluster-ips"].elements.contains_key("10.43.0.10"));
    assert!(rs.sets["no-endpoint-services"].elements.is_empty());
}

#[test]
fn terminating_serving_endpoints_are_used_only_when_none_is_ready() {
    let svc = service("web", json!({}));
    let old = ("10.42.0.5", "n1", false, true, true);
    let gone = ("10.42.0.6", "n1", false, false, true);
    let with_ready = rules(
        std::slice::from_ref(&svc),
        &[slice("web", http(80), &[old, gone, ready("10.42.0.7")])],
    );
    let (_, r) = chain_of(&with_ready, "service-");
    assert!(r[1].starts_with("numgen random mod 1 "), "{r:?}");
    assert!(
        with_ready
            .chains
            .keys()
            .any(|c| c.ends_with("__10.42.0.7/80"))
    );
    let without = rules(&[svc], &[slice("web", http(80), &[old, gone])]);
    let (_, r) = chain_of(&without, "service-");
    assert!(r[1].starts_with("numgen random mod 1 "), "{r:?}");
    assert!(without.chains.keys().any(|c| c.ends_with("__10.42.0.5/80")));
}

#[test]
fn a_service_without_endpoints_is_rejected_and_a_local_policy_without_local_ones_drops() {
    let none = rules(&[service("web", json!({}))], &[]);
    assert_eq!(
        element(&none, "no-endpoint-services", "10.43.0.10 . tcp . 80"),
        Some("goto reject-chain")
    );
    assert!(none.sets["service-ips"].elements.is_empty());
    let local = service("web", json!({"internalTrafficPolicy": "Local"}));
    let elsewhere = slice("web", http(80), &[("10.42.1.5", "n2", true, true, false)]);
    let rs = rules(&[local], &[elsewhere]);
    assert_eq!(
        element(&rs, "no-endpoint-services", "10.43.0.10 . tcp . 80"),
        Some("drop")
    );
}

#[test]
fn headless_and_external_name_services_have_no_rules() {
    let headless = service("h", json!({"clusterIP": "None"}));
    let external = service(
        "e",
        json!({"type": "ExternalName", "externalName": "example.com", "clusterIP": ""}),
    );
    let eps = slice("h", http(80), &[ready("10.42.0.5")]);
    let rs = rules(&[headless, external], &[eps]);
    assert_eq!(rs, rules(&[], &[]));
}

#[test]
fn node_ports_load_balancers_and_external_ips_go_through_an_external_chain_that_masquerades() {
    let mut svc = service(
        "web",
        json!({"type": "LoadBalancer", "externalIPs": ["192.0.2.50"],
            "ports": [{"name": "http", "port": 80, "nodePort": 30080}]}),
    );
    svc.status = Some(
        serde_json::from_value(json!({"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}))
            .unwrap(),
    );
    let rs = rules(&[svc], &[slice("web", http(8080), &[ready("10.42.0.5")])]);
    let (external, r) = chain_of(&rs, "external-");
    let (service_chain, _) = chain_of(&rs, "service-");
    assert_eq!(
        *r,
        [
            "jump mark-for-masquerade".to_string(),
            format!("goto {service_chain}")
        ]
    );
    let to_external = format!("goto {external}");
    for (map, key) in [
        ("service-nodeports", "tcp . 30080"),
        ("service-ips", "192.0.2.50 . tcp . 80"),
        ("service-ips", "192.0.2.1 . tcp . 80"),
    ] {
        assert_eq!(element(&rs, map, key), Some(to_external.as_str()), "{key}");
    }
}

#[test]
fn load_balancer_source_ranges_drop_other_clients_of_its_addresses_only() {
    let mut svc = service(
        "web",
        json!({"type": "LoadBalancer", "externalIPs": ["192.0.2.50"],
            "loadBalancerSourceRanges": ["198.51.100.0/24", " 10.0.0.0/8 "],
            "ports": [{"name": "http", "port": 80, "nodePort": 30080}]}),
    );
    svc.status = Some(
        serde_json::from_value(json!({"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}))
            .unwrap(),
    );
    let rs = rules(&[svc], &[slice("web", http(8080), &[ready("10.42.0.5")])]);
    let (firewall, r) = chain_of(&rs, "firewall-");
    assert_eq!(*r, ["ip saddr != { 198.51.100.0/24, 10.0.0.0/8 } drop"]);
    assert_eq!(
        element(&rs, "firewall-ips", "192.0.2.1 . tcp . 80"),
        Some(format!("goto {firewall}").as_str())
    );
    // The external IP and the node port are not subject to them, as in kube-proxy.
    assert_eq!(rs.sets["firewall-ips"].elements.len(), 1);
    // Without ranges, no firewall.
    let open = service("open", json!({"type": "LoadBalancer"}));
    let rs = rules(&[open], &[]);
    assert!(rs.sets["firewall-ips"].elements.is_empty());
    assert!(
        !rs.chains
            .keys()
            .any(|c| c.starts_with("firewall-") && c.contains('/'))
    );
}

#[test]
fn external_traffic_policy_local_keeps_the_client_address_and_uses_local_endpoints() {
    let svc = service(
        "web",
        json!({"type": "NodePort", "externalTrafficPolicy": "Local",
            "ports": [{"name": "http", "port": 80, "nodePort": 30080}]}),
    );
    let eps = slice(
        "web",
        http(8080),
        &[ready("10.42.0.5"), ("10.42.1.5", "n2", true, true, false)],
    );
    let rs = rules(std::slice::from_ref(&svc), &[eps]);
    let (_, external) = chain_of(&rs, "external-");
    let (local, local_rules) = chain_of(&rs, "local-");
    assert_eq!(external.last().unwrap(), &format!("goto {local}"));
    assert!(!external.contains(&"jump mark-for-masquerade".to_string()));
    assert!(
        local_rules
            .last()
            .unwrap()
            .starts_with("numgen random mod 1 ")
    );
    let (_, cluster) = chain_of(&rs, "service-");
    assert!(cluster.last().unwrap().starts_with("numgen random mod 2 "));

    let remote_only = slice("web", http(8080), &[("10.42.1.5", "n2", true, true, false)]);
    let rs = rules(&[svc], &[remote_only]);
    assert_eq!(
        element(&rs, "no-endpoint-nodeports", "tcp . 30080"),
        Some("drop")
    );
}

#[test]
fn client_ip_affinity_remembers_each_client_for_the_timeout() {
    let svc = service(
        "web",
        json!({"sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}}),
    );
    let rs = rules(&[svc], &[slice("web", http(80), &[ready("10.42.0.5")])]);
    let (affinity, set) = rs
        .sets
        .iter()
        .find(|(n, _)| n.starts_with("affinity-"))
        .unwrap();
    assert_eq!(
        set.decl,
        "type ipv4_addr; flags dynamic,timeout; timeout 60s;"
    );
    let (_, service_rules) = chain_of(&rs, "service-");
    assert!(service_rules[1].starts_with(&format!("ip saddr @{affinity} goto endpoint-")));
    let (_, endpoint) = chain_of(&rs, "endpoint-");
    assert_eq!(endpoint[1], format!("update @{affinity} {{ ip saddr }}"));
}

#[test]
fn a_selectorless_service_uses_its_hand_written_slice_by_port_name_and_protocol() {
    let svc = service(
        "dns",
        json!({"ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                         {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}),
    );
    let mut eps = slice(
        "dns",
        json!({"name": "dns", "port": 53, "protocol": "UDP"}),
        &[],
    );
    eps.ports.as_mut().unwrap().push(
        serde_json::from_value(json!({"name": "dns-tcp", "port": 53, "protocol": "TCP"})).unwrap(),
    );
    eps.endpoints = vec![
        serde_json::from_value(json!({"addresses": ["10.42.0.1"], "nodeName": "n1"})).unwrap(),
    ];
    let rs = rules(&[svc], &[eps]);
    let mut dnats: Vec<&str> = rs
        .chains
        .values()
        .flat_map(|c| &c.rules)
        .filter(|r| r.contains("dnat"))
        .map(String::as_str)
        .collect();
    dnats.sort();
    assert_eq!(
        dnats,
        [
            "meta l4proto tcp dnat to 10.42.0.1:53",
            "meta l4proto udp dnat to 10.42.0.1:53"
        ]
    );
    assert!(element(&rs, "service-ips", "10.43.0.10 . udp . 53").is_some());
    assert!(element(&rs, "service-ips", "10.43.0.10 . tcp . 53").is_some());
    assert!(super::rules::udp_endpoints(&rs).contains("10.42.0.1"));
}

#[test]
fn an_endpoint_change_rewrites_only_the_service_chain_and_the_endpoints_chains() {
    let svc = service("web", json!({}));
    let before = rules(
        std::slice::from_ref(&svc),
        &[slice("web", http(80), &[ready("10.42.0.5")])],
    );
    assert_eq!(before.diff(&before), "");
    let after = rules(&[svc], &[slice("web", http(80), &[ready("10.42.0.6")])]);
    let script = before.diff(&after);
    let (service_chain, _) = chain_of(&after, "service-");
    let (new_ep, _) = chain_of(&after, "endpoint-");
    let (old_ep, _) = chain_of(&before, "endpoint-");
    let t = "krust-proxy-krt-br";
    let expected = format!(
        "add table ip {t}\n\
         flush chain ip {t} {old_ep}\n\
         flush chain ip {t} {service_chain}\n\
         add chain ip {t} {new_ep}\n\
         add rule ip {t} {new_ep} ip saddr 10.42.0.6 jump mark-for-masquerade\n\
         add rule ip {t} {new_ep} meta l4proto tcp dnat to 10.42.0.6:80\n\
         add rule ip {t} {service_chain} ip daddr 10.43.0.10 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade\n\
         add rule ip {t} {service_chain} numgen random mod 1 vmap {{ 0 : goto {new_ep} }}\n\
         delete chain ip {t} {old_ep}\n"
    );
    assert_eq!(script, expected);
}

#[test]
fn a_full_sync_replaces_the_table_in_one_transaction() {
    let rs = rules(&[], &[]);
    let full = rs.full();
    assert!(full.starts_with(
        "add table ip krust-proxy-krt-br\ndelete table ip krust-proxy-krt-br\nadd table ip krust-proxy-krt-br\n"
    ));
    assert!(full.contains(
        "add chain ip krust-proxy-krt-br nat-output { type nat hook output priority -100; policy accept; }"
    ));
    // Masquerade only where marked.
    assert!(
        full.contains(
            "add rule ip krust-proxy-krt-br masquerading meta mark and 0x4000 == 0 return"
        )
    );
}
