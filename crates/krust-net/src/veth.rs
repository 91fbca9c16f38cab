//! A pod's veth pair, as the CNI `bridge` plugin makes it: the host end, named from the pod
//! uid, on the bridge with hairpin mode on (so a pod reaches itself through its own hostPort),
//! the other end `eth0` in the pod's namespace with the pod's address, `lo` up and a default
//! route through the gateway. The pod's `eth0` has a MAC address made from its IP address
//! (`0a:58:` and the four bytes, as the bridge plugin and kubenet do), so a pair made again for
//! the same pod leaves the node's and the other pods' neighbour caches right.
//!
//! The kernel enables a bridge port, and gives each end of the pair its queueing discipline,
//! asynchronously once both ends are up (its link watch, which runs at most once a second for
//! veths: the two ends can fall in different runs); a packet sent before that is dropped (a
//! lost ARP costs a second). So an attach ends only when the host end is forwarding, as the
//! bridge plugin checks its port state before returning, and the pod's end is
//! operationally up.
//!
//! All of it is rtnetlink requests made in-process (`krust-netlink`), not `ip` runs: a pod
//! attach costs no process.

use std::fs::File;
use std::io::ErrorKind;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

use krust_netlink::{Netlink, Veth};
use sha2::{Digest, Sha256};

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
    let hex: Vec<String> = mac_bytes(ip).iter().map(|b| format!("{b:02x}")).collect();
    hex.join(":")
}

/// [`mac_for`]'s address as bytes.
fn mac_bytes(ip: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x0a, 0x58, a, b, c, d]
}

/// The pod's end, inside its namespace.
pub(crate) const POD_IFNAME: &str = "eth0";

/// Makes the veth pair of a pod whose namespace is `netns` and whose address is `ip`, on the
/// host side (run in the host namespace). A pair left by an earlier attach of the same pod is
/// replaced.
pub(crate) fn create(config: &NetworkConfig, host: &str, netns: &Path, ip: Ipv4Addr) -> Result<()> {
    let what = || format!("making the veth pair {host}");
    let netns = File::open(netns).map_err(Error::io(format!(
        "opening network namespace {}",
        netns.display()
    )))?;
    let veth = Veth {
        name: host,
        bridge: &config.bridge,
        mtu: config.mtu,
        peer: POD_IFNAME,
        peer_mac: mac_bytes(ip),
        peer_netns: netns.as_fd(),
    };
    let mut link = open()?;
    match link.add_veth(&veth) {
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            let _ = link.delete(host);
            link.add_veth(&veth)
        }
        other => other,
    }
    .map_err(Error::io(what()))?;
    let index = link.index(host).map_err(Error::io(what()))?;
    link.set_hairpin(index).map_err(Error::io(what()))
}

/// Gives the pod's end its address and routes, `lo` up (run in the pod's namespace).
pub(crate) fn configure_pod(address: PodAddress) -> Result<()> {
    let PodAddress {
        ip,
        gateway,
        prefix,
    } = address;
    let what = || format!("configuring {POD_IFNAME} as {ip}/{prefix} via {gateway}");
    let mut link = open()?;
    (|| {
        let lo = link.index("lo")?;
        link.set_up(lo)?;
        let eth0 = link.index(POD_IFNAME)?;
        link.replace_address(eth0, ip, prefix)?;
        link.set_up(eth0)?;
        link.replace_default_route(eth0, gateway)
    })()
    .map_err(Error::io(what()))?;
    wait_until(POD_IFNAME, |link| link.operationally_up(POD_IFNAME))
}

/// Waits until the host end `host` forwards on the bridge (run in the host namespace).
pub(crate) fn wait_forwarding(host: &str) -> Result<()> {
    wait_until(host, |link| link.forwarding(host))
}

/// Polls `ready` about the link `name` of this namespace until it holds (for two seconds at
/// most, which the kernel's link watch never takes).
fn wait_until(
    name: &str,
    mut ready: impl FnMut(&mut Netlink) -> std::io::Result<bool>,
) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut pause = Duration::from_micros(100);
    let mut link = open()?;
    loop {
        if ready(&mut link).map_err(Error::io(format!("reading link {name}")))? {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::LinkNotUp(name.to_string()));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Removes the links `names` of this namespace (a veth's peer goes with it); missing ones
/// are skipped.
pub(crate) fn delete(names: &[String]) {
    let Ok(mut link) = open() else { return };
    for name in names {
        let _ = link.delete(name);
    }
}

/// An rtnetlink socket of the calling thread's namespace.
fn open() -> Result<Netlink> {
    Netlink::open().map_err(Error::io("opening an rtnetlink socket"))
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
