//! What NetworkPolicies mean for the pods of one node, computed from the API's objects alone
//! (pure), as kube-router's netpol controller (`pkg/controllers/netpol`) and Calico's
//! policy calculation do it, with Kubernetes' semantics:
//!
//! - A pod is isolated for ingress (egress) when some policy of its namespace selects it and
//!   has that policy type (`policyTypes` as the API server defaults it: `Ingress`, plus
//!   `Egress` when there are egress rules). An isolated pod admits what ANY selecting policy's
//!   rule of that direction allows; a policy without rules allows nothing.
//! - A rule's peers: `podSelector` (pods of the policy's namespace), `namespaceSelector`
//!   (every pod of the matching namespaces), both (the matching pods of the matching
//!   namespaces), `ipBlock` (its CIDR minus `except`); no peers: everyone.
//! - A rule's ports: none listed, every port; else each entry's protocol (TCP when unset)
//!   and port: none (every port of the protocol), a number up to `endPort`, or a name,
//!   resolved through the `containerPorts` of the pod the traffic goes to (the target for
//!   ingress, each peer for egress). A port that resolves nowhere allows nothing.
//!
//! Only pods with an address are peers or targets; host-network pods and finished ones
//! (`Succeeded`, `Failed`) are neither.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector as ApiSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use krust_api::selectors::LabelSelector;
use serde_json::{Map, Value};

use crate::proxy::L4;

/// An inclusive range of IPv4 addresses, as numbers.
pub type Range = (u32, u32);

/// Traffic of one protocol to a port range (`None`: every port).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortRange {
    pub protocol: L4,
    pub ports: Option<(u16, u16)>,
}

/// What one rule lets through for one pod.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Allow {
    /// The peers' address set, by its key in [`Plan::sets`]; `None`: any address.
    pub peers: Option<String>,
    /// The ports; `None`: every port of every protocol.
    pub ports: Option<Vec<PortRange>>,
}

/// One pod of this node and what it admits; `None` for a direction it is not isolated in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `namespace/name`.
    pub id: String,
    pub ip: Ipv4Addr,
    pub ingress: Option<Vec<Allow>>,
    pub egress: Option<Vec<Allow>>,
}

/// The policies' meaning on a node: its isolated pods and the peer address sets their
/// rules name (`namespace/policy/direction/rule[/port-name/number]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub targets: Vec<Target>,
    pub sets: BTreeMap<String, Vec<Range>>,
}

/// A pod as the policies see it.
struct PodView {
    namespace: String,
    labels: Map<String, Value>,
    ip: Ipv4Addr,
    local: bool,
    id: String,
    /// Container ports: name, protocol, number.
    ports: Vec<(String, L4, u16)>,
}

fn labels(l: Option<&BTreeMap<String, String>>) -> Map<String, Value> {
    l.into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect()
}

fn view(pod: &Pod, node: &str) -> Option<PodView> {
    let spec = pod.spec.as_ref()?;
    let status = pod.status.as_ref()?;
    if spec.host_network == Some(true)
        || matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"))
    {
        return None;
    }
    let ip: Ipv4Addr = status.pod_ip.as_deref()?.parse().ok()?;
    let ports = spec
        .containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let name = p.name.clone()?;
            let protocol = L4::parse(p.protocol.as_deref())?;
            Some((name, protocol, u16::try_from(p.container_port).ok()?))
        })
        .collect();
    Some(PodView {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        labels: labels(pod.metadata.labels.as_ref()),
        ip,
        local: spec.node_name.as_deref() == Some(node),
        id: format!(
            "{}/{}",
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default()
        ),
        ports,
    })
}

/// A selector as krust-api's; one it cannot read selects nothing.
fn selector(s: &ApiSelector) -> LabelSelector {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| LabelSelector::from_object(&v).ok())
        .unwrap_or_else(LabelSelector::nothing)
}

/// Where a rule's peers are: the whole world, or these pods and address ranges.
enum Peers<'a> {
    Any,
    Some {
        pods: Vec<&'a PodView>,
        ranges: Vec<Range>,
    },
}

struct World<'a> {
    pods: Vec<PodView>,
    namespaces: BTreeMap<&'a str, Map<String, Value>>,
}

impl World<'_> {
    fn peers(&self, namespace: &str, peers: Option<&Vec<NetworkPolicyPeer>>) -> Peers<'_> {
        let Some(peers) = peers.filter(|p| !p.is_empty()) else {
            return Peers::Any;
        };
        let (mut pods, mut ranges) = (Vec::new(), Vec::new());
        for peer in peers {
            if let Some(block) = &peer.ip_block {
                ranges.extend(block_ranges(&block.cidr, block.except.iter().flatten()));
                continue;
            }
            if peer.pod_selector.is_none() && peer.namespace_selector.is_none() {
                continue;
            }
            let pod_sel = peer.pod_selector.as_ref().map(selector);
            let ns_sel = peer.namespace_selector.as_ref().map(selector);
            for pod in &self.pods {
                let ns_ok = match &ns_sel {
                    Some(s) => s.matches(self.namespaces.get(pod.namespace.as_str())),
                    None => pod.namespace == namespace,
                };
                if ns_ok
                    && pod_sel
                        .as_ref()
                        .is_none_or(|s| s.matches(Some(&pod.labels)))
                {
                    pods.push(pod);
                }
            }
        }
        Peers::Some { pods, ranges }
    }
}

/// The plan for the pods of `node`.
pub fn build<'a>(
    node: &str,
    policies: impl IntoIterator<Item = &'a NetworkPolicy>,
    pods: impl IntoIterator<Item = &'a Pod>,
    namespaces: impl IntoIterator<Item = &'a Namespace>,
) -> Plan {
    let world = World {
        pods: pods.into_iter().filter_map(|p| view(p, node)).collect(),
        namespaces: namespaces
            .into_iter()
            .filter_map(|n| {
                let name = n.metadata.name.as_deref()?;
                Some((name, labels(n.metadata.labels.as_ref())))
            })
            .collect(),
    };
    let mut plan = Plan::default();
    let mut targets: BTreeMap<&str, Target> = BTreeMap::new();
    let mut policies: Vec<&NetworkPolicy> = policies.into_iter().collect();
    policies.sort_by_key(|p| (&p.metadata.namespace, &p.metadata.name));
    for policy in policies {
        let namespace = policy.metadata.namespace.as_deref().unwrap_or_default();
        let name = policy.metadata.name.as_deref().unwrap_or_default();
        let Some(spec) = &policy.spec else { continue };
        let (ingress, egress) = policy_types(spec);
        let selects = spec
            .pod_selector
            .as_ref()
            .map_or_else(LabelSelector::everything, selector);
        let selected: Vec<&PodView> = world
            .pods
            .iter()
            .filter(|p| p.local && p.namespace == namespace && selects.matches(Some(&p.labels)))
            .collect();
        if selected.is_empty() {
            continue;
        }
        let ingress_rules = spec.ingress.iter().flatten();
        let egress_rules = spec.egress.iter().flatten();
        let directions = [
            (
                ingress,
                "ingress",
                ingress_rules
                    .map(|r| (r.from.as_ref(), r.ports.as_ref()))
                    .collect::<Vec<_>>(),
            ),
            (
                egress,
                "egress",
                egress_rules
                    .map(|r| (r.to.as_ref(), r.ports.as_ref()))
                    .collect(),
            ),
        ];
        for (isolates, direction, rules) in directions {
            if !isolates {
                continue;
            }
            let peers: Vec<Peers> = rules
                .iter()
                .map(|(peers, _)| world.peers(namespace, *peers))
                .collect();
            for pod in &selected {
                let target = targets.entry(&pod.id).or_insert_with(|| Target {
                    id: pod.id.clone(),
                    ip: pod.ip,
                    ingress: None,
                    egress: None,
                });
                let allows = match direction {
                    "ingress" => target.ingress.get_or_insert_with(Vec::new),
                    _ => target.egress.get_or_insert_with(Vec::new),
                };
                for (i, ((_, ports), peers)) in rules.iter().zip(&peers).enumerate() {
                    allows.extend(rule_allows(
                        &mut plan.sets,
                        &format!("{namespace}/{name}/{direction}/{i}"),
                        peers,
                        *ports,
                        (direction == "ingress").then_some(*pod),
                        &world.pods,
                    ));
                }
            }
        }
    }
    for mut t in targets.into_values() {
        for allows in [&mut t.ingress, &mut t.egress].into_iter().flatten() {
            allows.sort();
            allows.dedup();
        }
        plan.targets.push(t);
    }
    plan
}

/// `(ingress, egress)`: which directions a policy isolates in.
fn policy_types(spec: &k8s_openapi::api::networking::v1::NetworkPolicySpec) -> (bool, bool) {
    match spec.policy_types.as_ref().filter(|t| !t.is_empty()) {
        Some(types) => (
            types.iter().any(|t| t == "Ingress"),
            types.iter().any(|t| t == "Egress"),
        ),
        None => (true, spec.egress.as_ref().is_some_and(|e| !e.is_empty())),
    }
}

/// What one rule allows; `ingress_target` is the pod ingress named ports resolve on (egress
/// ones resolve on each peer).
fn rule_allows(
    sets: &mut BTreeMap<String, Vec<Range>>,
    key: &str,
    peers: &Peers,
    ports: Option<&Vec<NetworkPolicyPort>>,
    ingress_target: Option<&PodView>,
    all_pods: &[PodView],
) -> Vec<Allow> {
    let peer_set = match peers {
        Peers::Any => None,
        Peers::Some { pods, ranges } => {
            let mut all: Vec<Range> = ranges.clone();
            all.extend(pods.iter().map(|p| (u32::from(p.ip), u32::from(p.ip))));
            sets.insert(key.to_string(), merge(all));
            Some(key.to_string())
        }
    };
    let Some(ports) = ports.filter(|p| !p.is_empty()) else {
        return vec![Allow {
            peers: peer_set,
            ports: None,
        }];
    };
    let mut numbered = Vec::new();
    let mut by_name: BTreeMap<(String, u16, L4), Vec<Range>> = BTreeMap::new();
    for p in ports {
        let Some(protocol) = L4::parse(p.protocol.as_deref()) else {
            continue;
        };
        match &p.port {
            None => numbered.push(PortRange {
                protocol,
                ports: None,
            }),
            Some(IntOrString::Int(n)) => {
                let (Ok(from), Ok(to)) =
                    (u16::try_from(*n), u16::try_from(p.end_port.unwrap_or(*n)))
                else {
                    continue;
                };
                numbered.push(PortRange {
                    protocol,
                    ports: Some((from, to.max(from))),
                });
            }
            Some(IntOrString::String(name)) => match ingress_target {
                Some(target) => numbered.extend(named(target, name, protocol).map(|n| PortRange {
                    protocol,
                    ports: Some((n, n)),
                })),
                None => {
                    let candidates: Vec<&PodView> = match peers {
                        Peers::Any => all_pods.iter().collect(),
                        Peers::Some { pods, .. } => pods.clone(),
                    };
                    for pod in candidates {
                        if let Some(n) = named(pod, name, protocol) {
                            let ip = u32::from(pod.ip);
                            by_name
                                .entry((name.clone(), n, protocol))
                                .or_default()
                                .push((ip, ip));
                        }
                    }
                }
            },
        }
    }
    let mut allows = Vec::new();
    if !numbered.is_empty() {
        allows.push(Allow {
            peers: peer_set,
            ports: Some(numbered),
        });
    }
    for ((name, number, protocol), ips) in by_name {
        let set = format!("{key}/{name}/{}/{number}", protocol.nft());
        sets.insert(set.clone(), merge(ips));
        allows.push(Allow {
            peers: Some(set),
            ports: Some(vec![PortRange {
                protocol,
                ports: Some((number, number)),
            }]),
        });
    }
    allows
}

/// The number a pod's container port called `name` has for `protocol`.
fn named(pod: &PodView, name: &str, protocol: L4) -> Option<u16> {
    pod.ports
        .iter()
        .find(|(n, p, _)| n == name && *p == protocol)
        .map(|(_, _, number)| *number)
}

/// An IPv4 CIDR as a range (`None` for IPv6 or nonsense).
fn cidr_range(cidr: &str) -> Option<Range> {
    let (ip, len) = cidr.split_once('/')?;
    let ip: Ipv4Addr = ip.parse().ok()?;
    let len: u32 = len.parse().ok().filter(|l| *l <= 32)?;
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    let start = u32::from(ip) & mask;
    Some((start, start | !mask))
}

/// `cidr` minus every `except`, as sorted disjoint ranges.
fn block_ranges<'a>(cidr: &str, except: impl IntoIterator<Item = &'a String>) -> Vec<Range> {
    let Some(whole) = cidr_range(cidr) else {
        return Vec::new();
    };
    let mut out = vec![whole];
    for cut in except.into_iter().filter_map(|e| cidr_range(e)) {
        out = out
            .into_iter()
            .flat_map(|(a, b)| {
                let mut left = Vec::new();
                if cut.1 < a || cut.0 > b {
                    left.push((a, b));
                } else {
                    if cut.0 > a {
                        left.push((a, cut.0 - 1));
                    }
                    if cut.1 < b {
                        left.push((cut.1 + 1, b));
                    }
                }
                left
            })
            .collect();
    }
    out
}

/// Ranges sorted, overlapping and adjacent ones joined (as an nftables interval set
/// wants them).
pub fn merge(mut ranges: Vec<Range>) -> Vec<Range> {
    ranges.sort();
    let mut out: Vec<Range> = Vec::new();
    for (a, b) in ranges {
        match out.last_mut() {
            Some(last) if u64::from(a) <= u64::from(last.1) + 1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

impl Plan {
    /// Whether the plan lets a new connection from `src` to `dst` (`protocol`, `port`)
    /// through: the egress of `src` and the ingress of `dst`, each when it is a pod of this
    /// node that is isolated in that direction. The rules compute the same in nftables.
    pub fn admits(&self, src: Ipv4Addr, dst: Ipv4Addr, protocol: L4, port: u16) -> bool {
        let lets = |allows: &Option<Vec<Allow>>, peer: Ipv4Addr| {
            let Some(allows) = allows else { return true };
            allows.iter().any(|a| {
                let peer_ok = a.peers.as_ref().is_none_or(|s| {
                    let ip = u32::from(peer);
                    self.sets[s].iter().any(|(x, y)| (*x..=*y).contains(&ip))
                });
                let port_ok = a.ports.as_ref().is_none_or(|ps| {
                    ps.iter().any(|p| {
                        p.protocol == protocol
                            && p.ports.is_none_or(|(x, y)| (x..=y).contains(&port))
                    })
                });
                peer_ok && port_ok
            })
        };
        let find = |ip| self.targets.iter().find(|t| t.ip == ip);
        find(src).is_none_or(|t| lets(&t.egress, dst))
            && find(dst).is_none_or(|t| lets(&t.ingress, src))
    }
}
