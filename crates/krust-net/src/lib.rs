//! The node's pod network, as the CNI `bridge` plugin with `host-local` IPAM and the `portmap`
//! plugin set it up for a kubelet: one bridge with the gateway address of the node's podCIDR,
//! a veth per pod, an address per pod that survives an agent restart, hostPorts by nftables
//! DNAT, and DESIGN.md's network-safety routes (the cluster's pod and service ranges routed
//! locally before any pod traffic).
//!
//! [`proxy`] is the node's service proxy, kube-proxy's nftables mode: Services and
//! EndpointSlices (read by the caller) become the node's `krust-proxy-<bridge>` table.
//! [`peers`] is the pod network between nodes, as flannel's `host-gw` and `vxlan` backends:
//! routes to the other nodes' podCIDRs, directly or over a VXLAN device.
//! [`policy`] enforces NetworkPolicies as kube-router's netpol controller does: policies,
//! pods and namespaces become the node's `krust-policy-<bridge>` table.
//!
//! The host is changed with iproute2's `ip` (`-batch`: one process per step) and with `nft`
//! rather than through a netlink crate: no new dependency, commands that read as their
//! documentation, and an attach measured here at 10–25 ms (p50; a state file fsync, the veth,
//! the pod's side, the wait for the bridge port), far inside the 0.3 s pod-startup budget;
//! netlink would save only the few milliseconds of three process spawns. Work in a namespace
//! runs on a short-lived thread moved into it (`netns.rs`), so the product uses the host's
//! namespace and the tests a private one they made.

mod bridge;
mod cmd;
mod config;
mod error;
mod hostport;
mod ipam;
mod netns;
mod network;
pub mod peers;
pub mod policy;
pub mod proxy;
mod routes;
mod table;
mod veth;

pub use config::{HostPort, NetworkConfig, PodAddress, Protocol};
pub use error::{Error, Result};
pub use krust_api::cidr::Cidr;
pub use netns::connect_in;
pub use network::PodNetwork;
pub use veth::host_veth_name;
