//! A pod's veth pair, as the CNI `bridge` plugin makes it: the host end, named from the pod
//! uid, on the bridge with hairpin mode on (so a pod reaches itself through its own hostPort),
//! the other end `eth0` in the pod's namespace with the pod's address, `lo` up and a default
//! route through the gateway.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::cmd::{already_exists, ip_batch, ip_batch_forced};
use crate::config::{NetworkConfig, PodAddress};
use crate::error::{Error, Result};

/// The name of a pod's veth end on the host: `krt` and 12 hex digits of the sha256 of its
/// uid (15 characters, the kernel's limit).
pub fn host_veth_name(pod_uid: &str) -> String {
    let digest = Sha256::digest(pod_uid.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("krt{hex}")
}

/// The pod's end, inside its namespace.
pub(crate) const POD_IFNAME: &str = "eth0";

/// Makes the veth pair of a pod whose namespace is `netns`, on the host side (run in the host
/// namespace). A pair left by an earlier attach of the same pod is replaced.
pub(crate) fn create(config: &NetworkConfig, host: &str, netns: &Path) -> Result<()> {
    let netns = netns
        .to_str()
        .filter(|p| !p.contains(char::is_whitespace))
        .ok_or_else(|| {
            Error::Config(format!(
                "network namespace path {} is not a plain path",
                netns.display()
            ))
        })?;
    let (bridge, mtu) = (&config.bridge, config.mtu);
    let lines = [
        format!(
            "link add {host} mtu {mtu} master {bridge} up type veth peer name {POD_IFNAME} mtu {mtu} netns {netns}"
        ),
        format!("link set {host} type bridge_slave hairpin on"),
    ];
    match ip_batch(&lines) {
        Err(e) if already_exists(&e) => {
            ip_batch_forced(&[format!("link del {host}")]);
            ip_batch(&lines)
        }
        other => other,
    }
}

/// Gives the pod's end its address and routes (run in the pod's namespace).
pub(crate) fn configure_pod(address: PodAddress) -> Result<()> {
    let PodAddress {
        ip,
        gateway,
        prefix,
    } = address;
    ip_batch(&[
        "link set lo up".to_string(),
        format!("addr replace {ip}/{prefix} dev {POD_IFNAME}"),
        format!("link set {POD_IFNAME} up"),
        format!("route replace default via {gateway} dev {POD_IFNAME}"),
    ])
}

/// Removes the host ends `names` (their pod ends go with them); missing ones are skipped.
pub(crate) fn delete(names: &[String]) {
    let lines: Vec<String> = names.iter().map(|n| format!("link del {n}")).collect();
    ip_batch_forced(&lines);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_veth_names_are_fifteen_characters_stable_and_distinct() {
        let a = host_veth_name("5b9c4d1e-0000-4000-8000-000000000001");
        assert_eq!(a.len(), 15);
        assert!(a.starts_with("krt"));
        assert!(a[3..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a, host_veth_name("5b9c4d1e-0000-4000-8000-000000000001"));
        assert_ne!(a, host_veth_name("5b9c4d1e-0000-4000-8000-000000000002"));
    }
}
