//! Tests of the policy table (`rules.rs`).

use std::collections::BTreeMap;

use super::model::{Allow, Plan, PortRange, Target};
use super::rules::{build, table_name};
use crate::proxy::L4;

fn plan() -> Plan {
    Plan {
        targets: vec![Target {
            id: "app/server".into(),
            ip: "10.42.0.10".parse().unwrap(),
            ingress: Some(vec![
                Allow {
                    peers: Some("app/p/ingress/0".into()),
                    ports: Some(vec![
                        PortRange {
                            protocol: L4::Tcp,
                            ports: Some((80, 80)),
                        },
                        PortRange {
                            protocol: L4::Udp,
                            ports: Some((8000, 8010)),
                        },
                        PortRange {
                            protocol: L4::Sctp,
                            ports: None,
                        },
                    ]),
                },
                Allow {
                    peers: None,
                    ports: None,
                },
            ]),
            egress: Some(vec![]),
        }],
        sets: BTreeMap::from([(
            "app/p/ingress/0".to_string(),
            vec![(0x0a2a_000b, 0x0a2a_000b), (0x0a2b_0000, 0x0a2b_00ff)],
        )]),
    }
}

#[test]
fn an_isolated_pod_gets_a_chain_per_direction_ending_in_drop() {
    let rs = build(&table_name("krust0"), &plan());
    let text = rs.render();
    assert_eq!(rs.table, "krust-policy-krust0");
    let ingress = rs
        .chains
        .keys()
        .find(|c| c.starts_with("ingress-"))
        .unwrap();
    assert!(ingress.ends_with("-app/server"), "{ingress}");
    let set = rs
        .sets
        .keys()
        .find(|s| s.starts_with("peers-"))
        .unwrap()
        .clone();
    assert_eq!(
        rs.chains[ingress].rules,
        [
            format!("ip saddr @{set} meta l4proto tcp th dport 80 accept"),
            format!("ip saddr @{set} meta l4proto udp th dport 8000-8010 accept"),
            format!("ip saddr @{set} meta l4proto sctp accept"),
            "accept".to_string(),
            "drop".to_string(),
        ]
    );
    let egress = rs.chains.keys().find(|c| c.starts_with("egress-")).unwrap();
    assert_eq!(rs.chains[egress].rules, ["drop"]);
    assert_eq!(
        rs.sets["ingress-pods"].elements["10.42.0.10"],
        format!("jump {ingress}")
    );
    assert_eq!(
        rs.sets[&set].elements.keys().collect::<Vec<_>>(),
        ["10.42.0.11", "10.43.0.0-10.43.0.255"]
    );
    assert!(
        text.contains("ct state established,related accept"),
        "{text}"
    );
}

#[test]
fn a_pod_coming_or_going_changes_set_elements_only() {
    let before = build("t", &plan());
    let mut grown = plan();
    grown
        .sets
        .get_mut("app/p/ingress/0")
        .unwrap()
        .push((0x0a2a_0014, 0x0a2a_0014));
    let after = build("t", &grown);
    let diff = before.diff(&after);
    assert!(diff.contains("add element ip t peers-"), "{diff}");
    assert!(diff.contains("10.42.0.20"), "{diff}");
    assert!(!diff.contains("chain"), "{diff}");
    assert_eq!(after.diff(&after), "");
}

#[test]
fn no_isolated_pod_means_only_the_fixed_chains() {
    let rs = build("t", &Plan::default());
    assert_eq!(rs.chains.keys().collect::<Vec<_>>(), ["forward", "input"]);
}
