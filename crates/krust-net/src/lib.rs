//! The node's pod network, as the CNI `bridge` plugin with `host-local` IPAM and the `portmap`
//! plugin set it up for a kubelet: one bridge with the gateway address of the node's podCIDR,
//! a veth per pod, an address per pod that survives an agent restart, hostPorts by nftables
//! DNAT, and DESIGN.md's network-safety routes (the cluster's pod and service ranges routed
//! locally before any pod traffic).
//!
//! The host is changed with iproute2's `ip` and with `nft`; work in a namespace runs on a
//! short-lived thread moved into it (`netns.rs`), so the product uses the host's namespace
//! and the tests a private one they made.

mod bridge;
mod cmd;
mod config;
mod error;
mod hostport;
mod ipam;
mod netns;
mod network;
mod routes;
mod veth;

pub use config::{HostPort, NetworkConfig, PodAddress, Protocol};
pub use error::{Error, Result};
pub use krust_api::cidr::Cidr;
pub use network::PodNetwork;
pub use veth::host_veth_name;
