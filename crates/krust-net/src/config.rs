//! What the kubelet hands the pod network: the node's ranges and where state lives
//! (the CNI network configuration of the bridge plugin), a pod's hostPorts (the
//! `portMappings` capability of the portmap plugin) and what a pod gets back (the CNI
//! result's address and gateway).

use std::net::Ipv4Addr;
use std::path::PathBuf;

use krust_api::cidr::Cidr;
use serde::{Deserialize, Serialize};

/// The pod network of one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkConfig {
    /// The bridge's name: `krust0` in the product; tests use their own names.
    pub bridge: String,
    /// This node's range (`10.42.0.0/24`); its first address (`.1`) is the gateway, on the
    /// bridge.
    pub pod_cidr: Cidr,
    /// The whole cluster's pod range (`10.42.0.0/16`), routed `unreachable` but for the
    /// node's own range.
    pub cluster_cidr: Cidr,
    /// The service range (`10.43.0.0/16`), routed `unreachable` until a proxy DNATs it.
    pub service_cidr: Cidr,
    /// Where the address allocations are kept, so they survive an agent restart.
    pub state_dir: PathBuf,
    /// The MTU of the bridge and of both ends of every pod's veth.
    pub mtu: u32,
    /// The network namespace that plays the host: `None` (the product) is this process's
    /// own; tests pass a namespace they made (`/run/netns/krt-…`) so they never touch the
    /// real host's network.
    pub host_netns: Option<PathBuf>,
}

impl NetworkConfig {
    /// krust's defaults for a node whose podCIDR is `pod_cidr`: bridge `krust0`, cluster
    /// range `10.42.0.0/16`, services `10.43.0.0/16`, MTU 1500, the host's own namespace.
    pub fn new(pod_cidr: Cidr, state_dir: impl Into<PathBuf>) -> Self {
        NetworkConfig {
            bridge: "krust0".to_string(),
            pod_cidr,
            cluster_cidr: Cidr::new(Ipv4Addr::new(10, 42, 0, 0), 16).expect("a /16"),
            service_cidr: Cidr::new(Ipv4Addr::new(10, 43, 0, 0), 16).expect("a /16"),
            state_dir: state_dir.into(),
            mtu: 1500,
            host_netns: None,
        }
    }

    /// The gateway: the first address of the pod range, on the bridge.
    pub fn gateway(&self) -> Ipv4Addr {
        self.pod_cidr.nth(1)
    }
}

/// What a pod's network is: its address, and the gateway its default route goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodAddress {
    /// The pod's address (`status.podIP`).
    pub ip: Ipv4Addr,
    /// The bridge's address, the pod's default gateway.
    pub gateway: Ipv4Addr,
    /// The prefix length of the pod range, as on the pod's `eth0`.
    pub prefix: u8,
}

/// A transport protocol of a hostPort.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// The name nftables knows it by.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// A container port published on the node (a container port's `hostPort`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HostPort {
    /// The node's port.
    pub host_port: u16,
    /// The pod's port it reaches.
    pub container_port: u16,
    /// TCP or UDP.
    pub protocol: Protocol,
    /// Only this node address (`hostIP`); `None` (or `0.0.0.0`) is every node address.
    pub host_ip: Option<Ipv4Addr>,
}

impl HostPort {
    /// The node address it is bound to, `None` for all of them.
    pub(crate) fn bound_ip(&self) -> Option<Ipv4Addr> {
        self.host_ip.filter(|ip| !ip.is_unspecified())
    }

    /// Whether two hostPorts would catch the same packets.
    pub(crate) fn overlaps(&self, other: &HostPort) -> bool {
        self.host_port == other.host_port
            && self.protocol == other.protocol
            && match (self.bound_ip(), other.bound_ip()) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}
