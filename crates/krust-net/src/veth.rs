//! A pod's veth pair, as the CNI `bridge` plugin makes it: the host end, named from the pod
//! uid, on the bridge with hairpin mode on (so a pod reaches itself through its own hostPort),
//! the other end `eth0` in the pod's namespace with the pod's address, `lo` up and a default
//! route through the gateway. The pod's `eth0` has a MAC address made from its IP address
//! (`0a:58:` and the four bytes, as the bridge plugin and kubenet do), so a pair made again for
//! the same pod leaves the node's and the other pods' neighbour caches right.
//!
//! The kernel enables a bridge port asynchronously once both ends are up; a packet sent
//! before that is dropped (a lost ARP costs a second). So an attach ends only when the host
//! end is forwarding, as the bridge plugin checks its port state before returning.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::cmd::{already_exists, ip, ip_batch, ip_batch_forced};
use crate::config::{NetworkConfig, PodAddress};
use crate::error::{Error, Result};

/// The name of a pod's veth end on the host: `krt` and 12 hex digits of the sha256 of its
/// uid (15 characters, the kernel's limit).
pub fn host_veth_name(pod_uid: &str) -> String {
    let digest = Sha256::digest(pod_uid.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("krt{hex}")
}

/// The MAC address that goes with an IPv4 address on the pod network: `0a:58:` (locally
/// administered, unicast) and the address's four bytes.
pub(crate) fn mac_for(ip: Ipv4Addr) -> String {
    let [a, b, c, d] = ip.octets();
    format!("0a:58:{a:02x}:{b:02x}:{c:02x}:{d:02x}")
}

/// The pod's end, inside its namespace.
pub(crate) const POD_IFNAME: &str = "eth0";

/// Makes the veth pair of a pod whose namespace is `netns` and whose address is `ip`, on the
/// host side (run in the host namespace). A pair left by an earlier attach of the same pod is
/// replaced.
pub(crate) fn create(config: &NetworkConfig, host: &str, netns: &Path, ip: Ipv4Addr) -> Result<()> {
    let netns = netns
        .to_str()
        .filter(|p| !p.contains(char::is_whitespace))
        .ok_or_else(|| {
            Error::Config(format!(
                "network namespace path {} is not a plain path",
                netns.display()
            ))
        })?;
    let (bridge, mtu, mac) = (&config.bridge, config.mtu, mac_for(ip));
    let lines = [
        format!(
            "link add {host} mtu {mtu} master {bridge} up type veth peer name {POD_IFNAME} address {mac} mtu {mtu} netns {netns}"
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

/// Waits until the host end `host` forwards on the bridge (run in the host namespace).
pub(crate) fn wait_forwarding(host: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut pause = Duration::from_millis(1);
    loop {
        let shown = ip(&["-d", "-o", "link", "show", "dev", host])?;
        if shown.contains("bridge_slave state forwarding") {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::NotForwarding(host.to_string()));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
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
    fn a_pod_mac_address_is_made_from_its_ip_address() {
        assert_eq!(mac_for(Ipv4Addr::new(10, 42, 0, 2)), "0a:58:0a:2a:00:02");
        assert_eq!(
            mac_for(Ipv4Addr::new(10, 42, 255, 254)),
            "0a:58:0a:2a:ff:fe"
        );
    }

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
