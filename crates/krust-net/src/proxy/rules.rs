//! The node's service rules as data, mirroring kube-proxy's nftables proxier
//! (`pkg/proxy/nftables/proxier.go`): a pure function from Services and EndpointSlices to a
//! [`Ruleset`]. Its shape is kube-proxy's:
//!
//! - `services` (from the `nat-prerouting` and `nat-output` hooks) looks packets up in the
//!   verdict maps `service-ips` (cluster IP, external IP or load-balancer address, protocol,
//!   port) and `service-nodeports` (protocol, port; any local address, 127.0.0.1 included as
//!   kube-proxy's iptables mode does with `route_localnet`).
//! - A Service port has a `service-…` chain (cluster traffic: a random pick among its
//!   endpoints, `numgen random`; masquerade for clients outside the cluster range), a
//!   `local-…` chain (only this node's endpoints, for `Local` traffic policies), an
//!   `external-…` chain (node ports, external IPs, load balancers: masquerade, or for
//!   `externalTrafficPolicy: Local` no masquerade and local endpoints only) and an
//!   `endpoint-…` chain per endpoint (masquerade for hairpin, DNAT). Session affinity is a
//!   dynamic set per endpoint with a timeout, consulted before the random pick.
//! - Service ports without usable endpoints are in `no-endpoint-services` and
//!   `no-endpoint-nodeports`, consulted by the filter hooks before NAT: rejected (ICMP port
//!   unreachable) when no endpoint exists anywhere, dropped when only a `Local` policy finds
//!   none. `cluster-ips-check`, after NAT, rejects other ports of a cluster IP and drops
//!   anything still addressed to the service range, so nothing untranslated leaves. Both
//!   run in `prerouting` (kube-proxy: `forward`) for packets from pods: a packet routed
//!   back out of the bridge it came from makes the kernel send an ICMP redirect first,
//!   which uses up the per-host ICMP rate limit and the rejection's port unreachable with it.
//! - A LoadBalancer's `loadBalancerSourceRanges` are a `firewall-…` chain dropping other
//!   clients, reached through the `firewall-ips` map (load-balancer address, protocol, port)
//!   from `firewall-check`, before NAT on the way in and from the node itself.
//! - Masquerading is a mark (`0x4000`) set on the way in and acted on in `nat-postrouting`.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use krust_api::cidr::Cidr;
use sha2::{Digest, Sha256};

use super::model::{self, Endpoint, ServicePort, Usable};
use super::ruleset::{Chain, Ruleset, Set};

/// What the rules depend on besides Services and EndpointSlices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The table's name (`krust-proxy-<bridge>`).
    pub table: String,
    /// This node's name (`EndpointSlice` endpoints' `nodeName`).
    pub name: String,
    /// The cluster's pod range: clients outside it are masqueraded.
    pub cluster_cidr: Cidr,
    /// The service range: what is still addressed to it after NAT is dropped.
    pub service_cidr: Cidr,
}

const MASQ_MARK: &str = "0x4000";

/// The ruleset for `services` and their `slices` on `node`.
pub fn build<'a>(
    node: &Node,
    services: impl IntoIterator<Item = &'a Service>,
    slices: &[&EndpointSlice],
) -> Ruleset {
    let mut rs = base(node);
    // Each Service's slices, found once (not by a scan of every slice per Service).
    let mut by_service: HashMap<(&str, &str), Vec<&EndpointSlice>> = HashMap::new();
    for slice in slices {
        let labels = slice.metadata.labels.as_ref();
        if let (Some(ns), Some(svc)) = (
            slice.metadata.namespace.as_deref(),
            labels.and_then(|l| l.get(model::SERVICE_NAME_LABEL)),
        ) {
            by_service
                .entry((ns, svc.as_str()))
                .or_default()
                .push(slice);
        }
    }
    for svc in services {
        let (Some(ns), Some(name)) = (
            svc.metadata.namespace.as_deref(),
            svc.metadata.name.as_deref(),
        ) else {
            continue;
        };
        let mine = by_service
            .get(&(ns, name))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for port in model::service_ports(svc) {
            let eps = port.endpoints(mine.iter().copied(), &node.name);
            add_port(&mut rs, node, &port, &model::categorize(&eps));
        }
    }
    rs
}

/// The UDP endpoints of a ruleset (`ip`), whose flows must be forgotten once they go.
pub fn udp_endpoints(rs: &Ruleset) -> BTreeSet<String> {
    rs.chains
        .values()
        .flat_map(|c| c.rules.iter())
        .filter_map(|r| r.strip_prefix("meta l4proto udp dnat to "))
        .filter_map(|to| to.split(':').next())
        .map(str::to_string)
        .collect()
}

fn set(decl: &str) -> Set {
    Set {
        decl: decl.to_string(),
        ..Default::default()
    }
}

fn chain(decl: &str, rules: &[&str]) -> Chain {
    Chain {
        decl: decl.to_string(),
        rules: rules.iter().map(|r| r.to_string()).collect(),
    }
}

/// The fixed part: hooks, lookup maps, masquerading, checks.
fn base(node: &Node) -> Ruleset {
    let mut rs = Ruleset::empty(&node.table);
    let key3 = "type ipv4_addr . inet_proto . inet_service : verdict;";
    let key2 = "type inet_proto . inet_service : verdict;";
    rs.sets.insert("cluster-ips".into(), set("type ipv4_addr;"));
    rs.sets.insert("service-ips".into(), set(key3));
    rs.sets.insert("service-nodeports".into(), set(key2));
    rs.sets.insert("no-endpoint-services".into(), set(key3));
    rs.sets.insert("no-endpoint-nodeports".into(), set(key2));
    rs.sets.insert("firewall-ips".into(), set(key3));
    let filter =
        |hook: &str, prio: &str| format!("type filter hook {hook} priority {prio}; policy accept;");
    let nat =
        |hook: &str, prio: &str| format!("type nat hook {hook} priority {prio}; policy accept;");
    let svc_cidr = node.service_cidr.to_string();
    let chains = [
        (
            "filter-input",
            chain(
                &filter("input", "-110"),
                &[
                    "ct state new jump nodeport-endpoints-check",
                    "ct state new jump service-endpoints-check",
                ],
            ),
        ),
        (
            "filter-prerouting",
            chain(
                &filter("prerouting", "-110"),
                &[
                    "ct state new jump firewall-check",
                    "ct state new jump service-endpoints-check",
                ],
            ),
        ),
        (
            "filter-prerouting-post-dnat",
            chain(
                &filter("prerouting", "-90"),
                &["ct state new jump cluster-ips-check"],
            ),
        ),
        (
            "filter-output",
            chain(
                &filter("output", "-110"),
                &[
                    "ct state new jump firewall-check",
                    "ct state new jump service-endpoints-check",
                ],
            ),
        ),
        (
            "filter-output-post-dnat",
            chain(
                &filter("output", "-90"),
                &["ct state new jump cluster-ips-check"],
            ),
        ),
        (
            "nat-prerouting",
            chain(&nat("prerouting", "-100"), &["jump services"]),
        ),
        (
            "nat-output",
            chain(&nat("output", "-100"), &["jump services"]),
        ),
        (
            "nat-postrouting",
            chain(&nat("postrouting", "100"), &["jump masquerading"]),
        ),
        (
            "mark-for-masquerade",
            chain("", &[&format!("meta mark set meta mark or {MASQ_MARK}")]),
        ),
        (
            "masquerading",
            chain(
                "",
                &[
                    &format!("meta mark and {MASQ_MARK} == 0 return"),
                    &format!("meta mark set meta mark xor {MASQ_MARK}"),
                    "masquerade fully-random",
                ],
            ),
        ),
        (
            "services",
            chain(
                "",
                &[
                    "ip daddr . meta l4proto . th dport vmap @service-ips",
                    "fib daddr type local meta l4proto . th dport vmap @service-nodeports",
                ],
            ),
        ),
        (
            "service-endpoints-check",
            chain(
                "",
                &["ip daddr . meta l4proto . th dport vmap @no-endpoint-services"],
            ),
        ),
        (
            "firewall-check",
            chain(
                "",
                &["ip daddr . meta l4proto . th dport vmap @firewall-ips"],
            ),
        ),
        (
            "nodeport-endpoints-check",
            chain(
                "",
                &["fib daddr type local meta l4proto . th dport vmap @no-endpoint-nodeports"],
            ),
        ),
        (
            "cluster-ips-check",
            chain(
                "",
                &[
                    "ip daddr @cluster-ips reject",
                    &format!("ip daddr {svc_cidr} drop"),
                ],
            ),
        ),
        ("reject-chain", chain("", &["reject"])),
    ];
    for (name, c) in chains {
        rs.chains.insert(name.to_string(), c);
    }
    rs
}

/// The first 8 hex digits of the sha256 of `s`, upper case (chains' names stay unique when
/// kube names are long or alike).
pub(crate) fn hash(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .take(4)
        .fold(String::new(), |mut out, b| {
            let _ = write!(out, "{b:02X}");
            out
        })
}

fn chain_name(kind: &str, id: &str) -> String {
    format!("{kind}-{}-{id}", hash(id))
}

fn endpoint_id(port: &ServicePort, ep: &Endpoint) -> String {
    format!("{}__{}/{}", port.id, ep.ip, ep.port)
}

/// Adds one Service port's chains and map elements.
fn add_port(rs: &mut Ruleset, node: &Node, port: &ServicePort, usable: &Usable) {
    let proto = port.protocol.nft();
    let p = port.port;
    let service_chain = chain_name("service", &port.id);
    let local_chain = chain_name("local", &port.id);
    let external_chain = chain_name("external", &port.id);
    let internal = match port.internal_local {
        true => &usable.local,
        false => &usable.cluster,
    };
    let external = match port.external_local {
        true => &usable.local,
        false => &usable.cluster,
    };
    let no_endpoint = match usable.any {
        true => "drop",
        false => "goto reject-chain",
    };
    let masq_outside: Vec<String> = port
        .cluster_ips
        .iter()
        .map(|ip| {
            format!(
                "ip daddr {ip} {proto} dport {p} ip saddr != {} jump mark-for-masquerade",
                node.cluster_cidr
            )
        })
        .collect();
    let uses_cluster = !usable.cluster.is_empty()
        && ((!port.internal_local) || (port.has_external() && !port.external_local));
    let uses_local = !usable.local.is_empty()
        && (port.internal_local || (port.has_external() && port.external_local));
    if uses_cluster {
        add_balancer(rs, &service_chain, port, &usable.cluster, &masq_outside);
    }
    if uses_local {
        add_balancer(rs, &local_chain, port, &usable.local, &masq_outside);
    }
    let internal_chain = match port.internal_local {
        true => &local_chain,
        false => &service_chain,
    };
    for ip in &port.cluster_ips {
        rs.sets
            .get_mut("cluster-ips")
            .expect("base set")
            .elements
            .insert(ip.to_string(), String::new());
        let key = format!("{ip} . {proto} . {p}");
        match internal.is_empty() {
            false => insert(rs, "service-ips", key, format!("goto {internal_chain}")),
            true => insert(rs, "no-endpoint-services", key, no_endpoint.to_string()),
        }
    }
    if !port.has_external() {
        return;
    }
    if !external.is_empty() {
        let rules = match port.external_local {
            false => vec![
                "jump mark-for-masquerade".to_string(),
                format!("goto {service_chain}"),
            ],
            true => {
                let mut r = Vec::new();
                if !usable.cluster.is_empty() {
                    // Pods and the node itself reach a Local service through any endpoint.
                    r.push(format!(
                        "ip saddr {} goto {service_chain}",
                        node.cluster_cidr
                    ));
                    r.push("fib saddr type local jump mark-for-masquerade".to_string());
                    r.push(format!("fib saddr type local goto {service_chain}"));
                    if !uses_cluster {
                        add_balancer(rs, &service_chain, port, &usable.cluster, &masq_outside);
                    }
                }
                r.push(format!("goto {local_chain}"));
                r
            }
        };
        rs.chains.insert(
            external_chain.clone(),
            Chain {
                decl: String::new(),
                rules,
            },
        );
    }
    if !port.source_ranges.is_empty() && !port.load_balancer_ips.is_empty() {
        // loadBalancerSourceRanges: the load-balancer addresses admit these clients only
        // (node ports and external IPs are not subject to them, as in kube-proxy).
        let firewall_chain = chain_name("firewall", &port.id);
        let ranges: Vec<String> = port.source_ranges.iter().map(|r| r.to_string()).collect();
        let rule = format!("ip saddr != {{ {} }} drop", ranges.join(", "));
        rs.chains
            .insert(firewall_chain.clone(), chain("", &[&rule]));
        for ip in &port.load_balancer_ips {
            let key = format!("{ip} . {proto} . {p}");
            insert(rs, "firewall-ips", key, format!("goto {firewall_chain}"));
        }
    }
    let mut targets: Vec<(&str, String)> = port
        .external_ips
        .iter()
        .map(|ip| ("services", format!("{ip} . {proto} . {p}")))
        .collect();
    if let Some(np) = port.node_port {
        targets.push(("nodeports", format!("{proto} . {np}")));
    }
    for (kind, key) in targets {
        match external.is_empty() {
            false => insert(
                rs,
                &kind_map(kind, false),
                key,
                format!("goto {external_chain}"),
            ),
            true => insert(rs, &kind_map(kind, true), key, no_endpoint.to_string()),
        }
    }
}

fn kind_map(kind: &str, no_endpoint: bool) -> String {
    match (kind, no_endpoint) {
        ("services", false) => "service-ips".into(),
        ("services", true) => "no-endpoint-services".into(),
        (_, false) => "service-nodeports".into(),
        (_, true) => "no-endpoint-nodeports".into(),
    }
}

fn insert(rs: &mut Ruleset, map: &str, key: String, value: String) {
    rs.sets
        .get_mut(map)
        .expect("base map")
        .elements
        .insert(key, value);
}

/// A chain picking one of `endpoints` (at random, or the one a client's affinity names),
/// and the endpoints' chains.
fn add_balancer(
    rs: &mut Ruleset,
    name: &str,
    port: &ServicePort,
    endpoints: &[Endpoint],
    first: &[String],
) {
    let mut rules: Vec<String> = first.to_vec();
    let mut picks = Vec::new();
    for (i, ep) in endpoints.iter().enumerate() {
        let id = endpoint_id(port, ep);
        let ep_chain = chain_name("endpoint", &id);
        let mut ep_rules = vec![format!("ip saddr {} jump mark-for-masquerade", ep.ip)];
        if let Some(timeout) = port.affinity_timeout {
            let affinity = format!("{}-{timeout}", chain_name("affinity", &id));
            rules.push(format!("ip saddr @{affinity} goto {ep_chain}"));
            ep_rules.push(format!("update @{affinity} {{ ip saddr }}"));
            rs.sets.insert(
                affinity,
                set(&format!(
                    "type ipv4_addr; flags dynamic,timeout; timeout {timeout}s;"
                )),
            );
        }
        ep_rules.push(format!(
            "meta l4proto {} dnat to {}:{}",
            port.protocol.nft(),
            ep.ip,
            ep.port
        ));
        rs.chains.insert(
            ep_chain.clone(),
            Chain {
                decl: String::new(),
                rules: ep_rules,
            },
        );
        picks.push(format!("{i} : goto {ep_chain}"));
    }
    rules.push(format!(
        "numgen random mod {} vmap {{ {} }}",
        endpoints.len(),
        picks.join(", ")
    ));
    rs.chains.insert(
        name.to_string(),
        Chain {
            decl: String::new(),
            rules,
        },
    );
}
