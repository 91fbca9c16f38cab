//! What the kubelet hands the pod network: the node's ranges and where state lives
//! (the CNI network configuration of the bridge plugin), a pod's hostPorts (the
//! `portMappings` capability of the portmap plugin) and what a pod gets back (the CNI
//! result's address and gateway).

use std::net::Ipv4Addr;
use std::path::PathBuf;

use krust_api::cidr::Cidr;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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

    /// Refuses configurations that cannot work or would write odd commands.
    pub(crate) fn validate(&self) -> Result<()> {
        let bridge = &self.bridge;
        if !plain_link_name(bridge) {
            return Err(Error::Config(format!(
                "bridge name {bridge:?}: 1 to 15 letters, digits, '-', '_' or '.'"
            )));
        }
        let (pods, cluster, services) = (self.pod_cidr, self.cluster_cidr, self.service_cidr);
        if pods.prefix() > 30 {
            return Err(Error::Config(format!(
                "pod range {pods} holds no pod address"
            )));
        }
        if !cluster.contains(pods.network()) || cluster.prefix() > pods.prefix() {
            return Err(Error::Config(format!(
                "pod range {pods} is not inside the cluster range {cluster}"
            )));
        }
        if cluster.contains(services.network()) || services.contains(cluster.network()) {
            return Err(Error::Config(format!(
                "service range {services} overlaps the cluster range {cluster}"
            )));
        }
        if !(576..=65535).contains(&self.mtu) {
            return Err(Error::Config(format!(
                "MTU {} out of 576..=65535",
                self.mtu
            )));
        }
        Ok(())
    }
}

/// Whether `name` is a link name krust writes into `ip` and `nft` commands: 1 to 15
/// letters, digits, '-', '_' or '.'.
pub(crate) fn plain_link_name(name: &str) -> bool {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    !name.is_empty() && name.len() <= 15 && name.chars().all(plain)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> NetworkConfig {
        NetworkConfig::new("10.42.3.0/24".parse().unwrap(), "/tmp/unused")
    }

    #[test]
    fn the_defaults_are_krusts_ranges_and_the_gateway_is_the_first_address() {
        let config = config();
        assert_eq!(config.bridge, "krust0");
        assert_eq!(config.cluster_cidr.to_string(), "10.42.0.0/16");
        assert_eq!(config.service_cidr.to_string(), "10.43.0.0/16");
        assert_eq!(config.gateway(), Ipv4Addr::new(10, 42, 3, 1));
        config.validate().unwrap();
    }

    #[test]
    fn configurations_that_cannot_work_are_refused() {
        type Change = fn(&mut NetworkConfig);
        let cases: [(&str, Change); 6] = [
            ("bridge name", |c| {
                c.bridge = "a-bridge-name-too-long".into()
            }),
            ("bridge name", |c| c.bridge = "br 0".into()),
            ("holds no pod address", |c| {
                c.pod_cidr = "10.42.3.0/31".parse().unwrap()
            }),
            ("not inside the cluster range", |c| {
                c.pod_cidr = "10.44.0.0/24".parse().unwrap()
            }),
            ("overlaps the cluster range", |c| {
                c.service_cidr = "10.0.0.0/8".parse().unwrap()
            }),
            ("MTU", |c| c.mtu = 100),
        ];
        for (said, change) in cases {
            let mut config = config();
            change(&mut config);
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(said), "{err}");
        }
    }
}
