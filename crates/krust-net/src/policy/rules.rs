//! A node's [`Plan`] as an nftables table (pure), shaped as kube-router's netpol firewall
//! chains and Calico's policy chains are, in nftables:
//!
//! - `forward` (pod to pod, through Services after their DNAT, and from other hosts) and
//!   `input` (a pod to the node itself, the cluster DNS on the bridge gateway included)
//!   accept packets of established and related connections first (replies of allowed
//!   connections), then send a packet from an egress-isolated pod through the verdict map
//!   `egress-pods` (source address → `jump egress-…`), and, in `forward`, a packet to an
//!   ingress-isolated pod through `ingress-pods` (destination address → `jump ingress-…`).
//! - A pod's `ingress-<hash>-<ns>/<pod>` chain accepts what one of its rules allows and drops
//!   the rest; its `egress-…` chain returns (so the ingress check of the destination comes
//!   next) for what is allowed and drops the rest.
//! - A rule's peers are a named interval set `peers-<hash>-<key>` (pod addresses and
//!   ipBlocks), so a pod coming or going changes set elements, not chains.
//! - The node's own packets to its pods (`output`: kubelet probes, host clients) are never
//!   filtered, as Kubernetes requires.

use std::fmt::Write;
use std::net::Ipv4Addr;

use super::model::{Allow, Plan, Range};
use crate::proxy::{Chain, Ruleset, Set, hash};

/// The name of the policy table for a bridge.
pub fn table_name(bridge: &str) -> String {
    format!("krust-policy-{bridge}")
}

fn named(kind: &str, id: &str) -> String {
    format!("{kind}-{}-{id}", hash(id))
}

fn element(&(a, b): &Range) -> String {
    match a == b {
        true => Ipv4Addr::from(a).to_string(),
        false => format!("{}-{}", Ipv4Addr::from(a), Ipv4Addr::from(b)),
    }
}

/// The table for `plan`.
pub fn build(table: &str, plan: &Plan) -> Ruleset {
    let mut rs = Ruleset::empty(table);
    let map = "type ipv4_addr : verdict;";
    for m in ["ingress-pods", "egress-pods"] {
        rs.sets.insert(
            m.into(),
            Set {
                decl: map.into(),
                ..Default::default()
            },
        );
    }
    let base = |hook: &str, rules: &[&str]| Chain {
        decl: format!("type filter hook {hook} priority 0; policy accept;"),
        rules: rules.iter().map(|r| r.to_string()).collect(),
    };
    let established = "ct state established,related accept";
    rs.chains.insert(
        "forward".into(),
        base(
            "forward",
            &[
                established,
                "ip saddr vmap @egress-pods",
                "ip daddr vmap @ingress-pods",
            ],
        ),
    );
    rs.chains.insert(
        "input".into(),
        base("input", &[established, "ip saddr vmap @egress-pods"]),
    );
    for (key, ranges) in &plan.sets {
        rs.sets.insert(
            named("peers", key),
            Set {
                decl: "type ipv4_addr; flags interval;".into(),
                elements: ranges.iter().map(|r| (element(r), String::new())).collect(),
            },
        );
    }
    for t in &plan.targets {
        let ip = t.ip.to_string();
        for (direction, allows, peer, verdict) in [
            ("ingress", &t.ingress, "saddr", "accept"),
            ("egress", &t.egress, "daddr", "return"),
        ] {
            let Some(allows) = allows else { continue };
            let chain = named(direction, &t.id);
            let mut rules: Vec<String> = allows
                .iter()
                .flat_map(|a| allow_rules(a, peer, verdict))
                .collect();
            rules.push("drop".into());
            rs.chains.insert(
                chain.clone(),
                Chain {
                    decl: String::new(),
                    rules,
                },
            );
            rs.sets
                .get_mut(&format!("{direction}-pods"))
                .expect("declared above")
                .elements
                .insert(ip.clone(), format!("jump {chain}"));
        }
    }
    rs
}

/// The rules of one allowance: one per port range (or one for every port).
fn allow_rules(a: &Allow, peer: &str, verdict: &str) -> Vec<String> {
    let mut prefix = String::new();
    if let Some(set) = &a.peers {
        let _ = write!(prefix, "ip {peer} @{} ", named("peers", set));
    }
    match &a.ports {
        None => vec![format!("{prefix}{verdict}")],
        Some(ports) => ports
            .iter()
            .map(|p| {
                let proto = p.protocol.nft();
                match p.ports {
                    None => format!("{prefix}meta l4proto {proto} {verdict}"),
                    Some((x, y)) if x == y => {
                        format!("{prefix}meta l4proto {proto} th dport {x} {verdict}")
                    }
                    Some((x, y)) => {
                        format!("{prefix}meta l4proto {proto} th dport {x}-{y} {verdict}")
                    }
                }
            })
            .collect(),
    }
}
