//! The kernel entries a node's peers need, as flannel's `host-gw` and `vxlan` backends add
//! them for each subnet lease (pure): what a set of peers wants, the plan from what the
//! kernel holds to it, and the `ip` / `bridge` commands of a plan.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use super::{Mode, Peer, PeersConfig};
use crate::routes::PROTO;

/// One kernel entry for a peer. The order of the variants is the order entries are added
/// in (a route last, once the VTEP it leads to is known) and the reverse of removals.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Entry {
    /// VXLAN: frames for the peer's VTEP MAC go to the peer's node address.
    Fdb { mac: String, dst: Ipv4Addr },
    /// VXLAN: the peer's VTEP address has the peer's VTEP MAC.
    Neigh { ip: Ipv4Addr, mac: String },
    /// The peer's podCIDR (`10.42.1.0/24`) through `via`: the peer's address (routes mode,
    /// `dev` unset), or its VTEP address onlink on the VXLAN device (`dev` set).
    Route {
        dst: String,
        via: Ipv4Addr,
        dev: Option<String>,
    },
}

/// What the kernel must hold for `peers` (this node, a peer without a podCIDR in the
/// cluster range, and in VXLAN mode one without a VTEP MAC, are skipped).
pub(crate) fn wanted(config: &PeersConfig, peers: &[Peer]) -> BTreeSet<Entry> {
    let mut want = BTreeSet::new();
    let others = peers.iter().filter(|p| {
        p.ip != config.node_ip
            && p.pod_cidr != config.pod_cidr
            && config.cluster_cidr.contains(p.pod_cidr.network())
            && p.pod_cidr.prefix() >= config.cluster_cidr.prefix()
    });
    for peer in others {
        let dst = peer.pod_cidr.to_string();
        match (config.mode, &peer.vtep_mac) {
            (Mode::Routes, _) => {
                want.insert(Entry::Route {
                    dst,
                    via: peer.ip,
                    dev: None,
                });
            }
            (Mode::Vxlan, Some(mac)) => {
                let vtep = peer.pod_cidr.network();
                let mac = mac.to_ascii_lowercase();
                want.insert(Entry::Fdb {
                    mac: mac.clone(),
                    dst: peer.ip,
                });
                want.insert(Entry::Neigh { ip: vtep, mac });
                want.insert(Entry::Route {
                    dst,
                    via: vtep,
                    dev: Some(config.device()),
                });
            }
            (Mode::Vxlan, None) => {}
        }
    }
    want
}

/// What changes the kernel's entries from `have` to `want`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Entries to remove, routes first.
    pub remove: Vec<Entry>,
    /// Entries to add (or replace), routes last.
    pub add: Vec<Entry>,
}

/// The plan from `have` to `want`: only the entries that differ.
pub(crate) fn plan(have: &BTreeSet<Entry>, want: &BTreeSet<Entry>) -> Plan {
    Plan {
        remove: {
            let mut gone: Vec<Entry> = have.difference(want).cloned().collect();
            gone.reverse();
            gone
        },
        add: want.difference(have).cloned().collect(),
    }
}

/// The `ip` and the `bridge` batch lines that add (`add`) or remove `entries` on the VXLAN
/// device `device`.
pub(crate) fn commands(entries: &[Entry], device: &str, add: bool) -> (Vec<String>, Vec<String>) {
    let (mut ip, mut bridge) = (Vec::new(), Vec::new());
    for entry in entries {
        match (entry, add) {
            (Entry::Fdb { mac, dst }, true) => {
                bridge.push(format!(
                    "fdb replace {mac} dev {device} dst {dst} self permanent"
                ));
            }
            (Entry::Fdb { mac, dst }, false) => {
                bridge.push(format!("fdb del {mac} dev {device} dst {dst} self"));
            }
            (Entry::Neigh { ip: vtep, mac }, true) => {
                ip.push(format!(
                    "neigh replace {vtep} lladdr {mac} dev {device} nud permanent"
                ));
            }
            (Entry::Neigh { ip: vtep, .. }, false) => {
                ip.push(format!("neigh del {vtep} dev {device}"));
            }
            (Entry::Route { dst, via, dev }, add) => {
                let verb = if add { "replace" } else { "del" };
                let dev = match dev {
                    Some(d) => format!(" dev {d} onlink"),
                    None => String::new(),
                };
                ip.push(format!("route {verb} {dst} via {via}{dev} proto {PROTO}"));
            }
        }
    }
    (ip, bridge)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(mode: Mode) -> PeersConfig {
        PeersConfig {
            mode,
            bridge: "krust0".into(),
            node_ip: "192.0.2.1".parse().unwrap(),
            pod_cidr: "10.42.0.0/24".parse().unwrap(),
            cluster_cidr: "10.42.0.0/16".parse().unwrap(),
            mtu: 1450,
            host_netns: None,
        }
    }

    fn peer(name: &str, ip: &str, cidr: &str, mac: Option<&str>) -> Peer {
        Peer {
            name: name.into(),
            ip: ip.parse().unwrap(),
            pod_cidr: cidr.parse().unwrap(),
            vtep_mac: mac.map(str::to_string),
        }
    }

    fn lines(entries: &[Entry], add: bool) -> Vec<String> {
        let (mut ip, bridge) = commands(entries, "krust0.vx", add);
        ip.extend(bridge);
        ip
    }

    #[test]
    fn in_routes_mode_each_peer_s_pod_range_is_routed_through_its_address() {
        let peers = [
            peer("a", "192.0.2.1", "10.42.0.0/24", None),
            peer("b", "192.0.2.2", "10.42.1.0/24", None),
            peer("c", "192.0.2.3", "10.42.2.0/24", Some("0A:58:0A:2A:02:00")),
        ];
        let want: Vec<Entry> = wanted(&config(Mode::Routes), &peers).into_iter().collect();
        assert_eq!(
            lines(&want, true),
            [
                "route replace 10.42.1.0/24 via 192.0.2.2 proto 107",
                "route replace 10.42.2.0/24 via 192.0.2.3 proto 107",
            ]
        );
    }

    #[test]
    fn in_vxlan_mode_a_peer_gets_a_forwarding_entry_a_neighbour_and_an_onlink_route() {
        let peers = [
            peer(
                "b",
                "198.51.100.7",
                "10.42.1.0/24",
                Some("0A:58:0A:2A:01:00"),
            ),
            peer("not-yet", "198.51.100.8", "10.42.2.0/24", None),
        ];
        let want: Vec<Entry> = wanted(&config(Mode::Vxlan), &peers).into_iter().collect();
        let (ip, bridge) = commands(&want, "krust0.vx", true);
        assert_eq!(
            bridge,
            ["fdb replace 0a:58:0a:2a:01:00 dev krust0.vx dst 198.51.100.7 self permanent"]
        );
        assert_eq!(
            ip,
            [
                "neigh replace 10.42.1.0 lladdr 0a:58:0a:2a:01:00 dev krust0.vx nud permanent",
                "route replace 10.42.1.0/24 via 10.42.1.0 dev krust0.vx onlink proto 107",
            ]
        );
    }

    #[test]
    fn peers_outside_the_cluster_range_or_with_this_node_s_range_are_skipped() {
        let peers = [
            peer("outside", "192.0.2.5", "10.99.0.0/24", None),
            peer("wider", "192.0.2.6", "10.0.0.0/8", None),
            peer("same-range", "192.0.2.7", "10.42.0.0/24", None),
        ];
        assert!(wanted(&config(Mode::Routes), &peers).is_empty());
    }

    #[test]
    fn a_changed_peer_changes_only_its_own_entries_and_a_gone_peer_s_routes_go_first() {
        let cfg = config(Mode::Vxlan);
        let before = wanted(
            &cfg,
            &[
                peer(
                    "b",
                    "198.51.100.7",
                    "10.42.1.0/24",
                    Some("0a:58:0a:2a:01:00"),
                ),
                peer(
                    "c",
                    "198.51.100.8",
                    "10.42.2.0/24",
                    Some("0a:58:0a:2a:02:00"),
                ),
                peer(
                    "d",
                    "198.51.100.9",
                    "10.42.3.0/24",
                    Some("0a:58:0a:2a:03:00"),
                ),
            ],
        );
        let after = wanted(
            &cfg,
            &[
                peer(
                    "b",
                    "198.51.100.7",
                    "10.42.1.0/24",
                    Some("0a:58:0a:2a:01:00"),
                ),
                // c moved to another address: only its forwarding entry changes.
                peer(
                    "c",
                    "198.51.100.80",
                    "10.42.2.0/24",
                    Some("0a:58:0a:2a:02:00"),
                ),
            ],
        );
        let plan = plan(&before, &after);
        assert_eq!(
            lines(&plan.remove, false),
            [
                "route del 10.42.3.0/24 via 10.42.3.0 dev krust0.vx onlink proto 107",
                "neigh del 10.42.3.0 dev krust0.vx",
                "fdb del 0a:58:0a:2a:03:00 dev krust0.vx dst 198.51.100.9 self",
                "fdb del 0a:58:0a:2a:02:00 dev krust0.vx dst 198.51.100.8 self",
            ]
        );
        assert_eq!(
            lines(&plan.add, true),
            ["fdb replace 0a:58:0a:2a:02:00 dev krust0.vx dst 198.51.100.80 self permanent"]
        );
        assert_eq!(super::plan(&after, &after), Plan::default());
    }
}
