//! What the kernel holds for the node's peers, read back as [`Entry`]s from iproute2's JSON
//! output (flannel keeps its own view in memory; reading the kernel instead makes every sync
//! start from the truth, after an agent restart or someone's `ip route del` alike): krust's
//! unicast routes inside the cluster range (`ip -j route show root <cluster> proto 107 type
//! unicast`), and in VXLAN mode the device's permanent neighbours and FDB entries.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use serde_json::Value;

use super::entries::Entry;
use super::{Mode, PeersConfig};
use crate::cmd;
use crate::error::Result;
use crate::routes::PROTO;

/// The entries the kernel holds now (run in the host's namespace).
pub(crate) fn entries(config: &PeersConfig) -> Result<BTreeSet<Entry>> {
    let device = config.device();
    let cluster = config.cluster_cidr.to_string();
    let listed = cmd::ip(&[
        "-j", "route", "show", "root", &cluster, "proto", PROTO, "type", "unicast",
    ])?;
    let mut have: BTreeSet<Entry> = routes(&listed, &device).into_iter().collect();
    if config.mode == Mode::Vxlan {
        let neigh = cmd::ip(&["-j", "neigh", "show", "dev", &device, "nud", "permanent"])?;
        have.extend(neighbours(&neigh));
        let fdb = cmd::bridge(&["-j", "fdb", "show", "dev", &device])?;
        have.extend(forwarding(&fdb));
    }
    Ok(have)
}

fn list(json: &str) -> Vec<Value> {
    serde_json::from_str::<Vec<Value>>(json).unwrap_or_default()
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn addr(v: &Value, key: &str) -> Option<Ipv4Addr> {
    text(v, key)?.parse().ok()
}

/// Routes with a gateway; `dev` is kept only when it is the VXLAN device `device`.
pub(crate) fn routes(json: &str, device: &str) -> Vec<Entry> {
    list(json)
        .iter()
        .filter_map(|r| {
            let dst = text(r, "dst")?;
            let dst = match dst.contains('/') {
                true => dst.to_string(),
                false => format!("{dst}/32"),
            };
            Some(Entry::Route {
                dst,
                via: addr(r, "gateway")?,
                dev: text(r, "dev").filter(|d| *d == device).map(str::to_string),
            })
        })
        .collect()
}

/// Neighbours with a link-layer address.
pub(crate) fn neighbours(json: &str) -> Vec<Entry> {
    list(json)
        .iter()
        .filter_map(|n| {
            Some(Entry::Neigh {
                ip: addr(n, "dst")?,
                mac: text(n, "lladdr")?.to_ascii_lowercase(),
            })
        })
        .collect()
}

/// FDB entries with a remote destination.
pub(crate) fn forwarding(json: &str) -> Vec<Entry> {
    list(json)
        .iter()
        .filter_map(|f| {
            Some(Entry::Fdb {
                mac: text(f, "mac")?.to_ascii_lowercase(),
                dst: addr(f, "dst")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_read_with_their_gateway_and_the_vxlan_device_only() {
        let json = r#"[{"dst":"10.36.5.0/24","gateway":"10.36.5.0","dev":"krt.vx","flags":["onlink"]},
            {"dst":"10.36.6.0/24","gateway":"10.37.0.3","dev":"eth0","flags":[]},
            {"dst":"10.36.7.9","gateway":"10.37.0.4","dev":"eth0","flags":[]},
            {"dst":"10.36.8.0/24","dev":"krt-br","flags":[]}]"#;
        assert_eq!(
            routes(json, "krt.vx"),
            [
                Entry::Route {
                    dst: "10.36.5.0/24".into(),
                    via: "10.36.5.0".parse().unwrap(),
                    dev: Some("krt.vx".into()),
                },
                Entry::Route {
                    dst: "10.36.6.0/24".into(),
                    via: "10.37.0.3".parse().unwrap(),
                    dev: None,
                },
                Entry::Route {
                    dst: "10.36.7.9/32".into(),
                    via: "10.37.0.4".parse().unwrap(),
                    dev: None,
                },
            ]
        );
    }

    #[test]
    fn neighbours_and_forwarding_entries_are_read_from_iproute2_json() {
        let neigh = r#"[{"dst":"10.36.5.0","lladdr":"0A:58:0a:24:05:00","state":["PERMANENT"]}]"#;
        assert_eq!(
            neighbours(neigh),
            [Entry::Neigh {
                ip: "10.36.5.0".parse().unwrap(),
                mac: "0a:58:0a:24:05:00".into()
            }]
        );
        let fdb = r#"[{"mac":"0a:58:0a:24:05:00","dst":"10.38.1.2","flags":["self"],"state":"permanent"},
            {"mac":"6a:18:9a:c6:31:48","flags":["self"],"state":"permanent"}]"#;
        assert_eq!(
            forwarding(fdb),
            [Entry::Fdb {
                mac: "0a:58:0a:24:05:00".into(),
                dst: "10.38.1.2".parse().unwrap()
            }]
        );
        assert!(routes("", "x").is_empty());
    }
}
