//! Addresses: node InternalIPs from a loopback range, pod IPs handed out in order from the node's
//! pod CIDR (like the host-local IPAM plugin: the first host address is the bridge's, pods get
//! the next free ones, wrapping around).

use krust_api::cidr::Cidr;
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

/// Node addresses come from 127.31.0.0/16: loopback addresses, so a client that dials a sim
/// node reaches this host and nothing leaves it.
const NODE_NET: u32 = u32::from_be_bytes([127, 31, 0, 0]);

/// The InternalIP of the sim node with this index (127.31.0.2, 127.31.0.3, …).
pub fn node_ip(index: usize) -> Ipv4Addr {
    Ipv4Addr::from(NODE_NET + 2 + (index % 65_532) as u32)
}

/// The pod CIDR a node uses when no podCIDR was assigned in time: 10.42.<index>.0/24, the
/// krust default pod range, wrapping after 256 nodes (addresses are only data for sim pods).
pub fn fallback_cidr(index: usize) -> String {
    format!("10.42.{}.0/24", index % 256)
}

/// A pod CIDR the pool can use: an IPv4 CIDR of /30 or wider (a /31 or /32 has no room for
/// a pod after the network and bridge addresses).
fn pod_cidr(cidr: &str) -> Option<Cidr> {
    cidr.parse::<Cidr>().ok().filter(|c| c.prefix() <= 30)
}

/// The pod addresses of one node.
#[derive(Default)]
pub struct Pool {
    cidr: String,
    /// First and last assignable host addresses.
    range: Option<(u32, u32)>,
    next: u32,
    by_pod: HashMap<String, Ipv4Addr>,
    taken: HashSet<u32>,
}

impl Pool {
    /// Switches to `cidr` (a no-op when unchanged). Addresses handed out from an earlier range
    /// stay with their pods; new ones come from the new range.
    pub fn set_cidr(&mut self, cidr: &str) -> bool {
        if self.cidr == cidr {
            return self.range.is_some();
        }
        let Some(pods) = pod_cidr(cidr) else {
            return false;
        };
        let (net, size) = (u32::from(pods.network()), pods.size());
        // .0 is the network, .1 the bridge, the last the broadcast address.
        self.range = Some((net + 2, (u64::from(net) + size - 2) as u32));
        self.next = net + 2;
        self.cidr = cidr.to_string();
        self.taken = self.by_pod.values().map(|ip| u32::from(*ip)).collect();
        true
    }

    /// The address of pod `uid`: the one it holds, else the next free one.
    pub fn allocate(&mut self, uid: &str) -> Option<Ipv4Addr> {
        if let Some(ip) = self.by_pod.get(uid) {
            return Some(*ip);
        }
        let (first, last) = self.range?;
        let count = last - first + 1;
        for _ in 0..count {
            let candidate = self.next;
            self.next = if candidate >= last {
                first
            } else {
                candidate + 1
            };
            if self.taken.insert(candidate) {
                let ip = Ipv4Addr::from(candidate);
                self.by_pod.insert(uid.to_string(), ip);
                return Some(ip);
            }
        }
        None
    }

    /// Records an address a pod already has (a node taken over after a restart).
    pub fn reserve(&mut self, uid: &str, ip: Ipv4Addr) {
        self.taken.insert(u32::from(ip));
        self.by_pod.insert(uid.to_string(), ip);
    }

    pub fn release(&mut self, uid: &str) {
        if let Some(ip) = self.by_pod.remove(uid) {
            self.taken.remove(&u32::from(ip));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_with_reuse_and_wrap() {
        let mut p = Pool::default();
        assert!(p.allocate("a").is_none());
        assert!(p.set_cidr("10.42.3.0/24"));
        assert_eq!(p.allocate("a"), Some(Ipv4Addr::new(10, 42, 3, 2)));
        assert_eq!(p.allocate("b"), Some(Ipv4Addr::new(10, 42, 3, 3)));
        assert_eq!(p.allocate("a"), Some(Ipv4Addr::new(10, 42, 3, 2)));
        p.release("a");
        assert_eq!(p.allocate("c"), Some(Ipv4Addr::new(10, 42, 3, 4)));
        p.reserve("d", Ipv4Addr::new(10, 42, 3, 5));
        assert_eq!(p.allocate("e"), Some(Ipv4Addr::new(10, 42, 3, 6)));
        for i in 0..248 {
            assert!(p.allocate(&format!("x{i}")).is_some(), "{i}");
        }
        // .2 came back free and is found after wrapping; then the range is full.
        assert_eq!(p.allocate("wrapped"), Some(Ipv4Addr::new(10, 42, 3, 2)));
        assert!(p.allocate("full").is_none());
        p.release("b");
        assert_eq!(p.allocate("f"), Some(Ipv4Addr::new(10, 42, 3, 3)));
    }

    #[test]
    fn node_ips_and_fallback() {
        assert_eq!(node_ip(0), Ipv4Addr::new(127, 31, 0, 2));
        assert_eq!(node_ip(300), Ipv4Addr::new(127, 31, 1, 46));
        assert_eq!(fallback_cidr(257), "10.42.1.0/24");
        assert!(pod_cidr("fd00::/64").is_none());
        assert!(pod_cidr("10.42.3.0/31").is_none());
        assert_eq!(
            pod_cidr("10.42.3.7/24").unwrap().to_string(),
            "10.42.3.0/24"
        );
    }
}
