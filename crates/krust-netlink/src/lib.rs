//! The rtnetlink requests a node makes for each pod, in-process: what iproute2's `ip link`,
//! `ip addr` and `ip route` send to the kernel, without running them (a process per step
//! cost a pod's start milliseconds each). A [`Netlink`] socket belongs to the network
//! namespace of the thread that opened it.

mod address;
mod link;
mod request;

pub use link::Veth;
pub use request::Netlink;
