//! The real node: the kubelet of this host, running pods as real Linux containers through
//! `krust-runtime`, with their network from `krust-net` and images from `krust-image`.
//!
//! [`RealNode`] (`agent.rs`) is the agent; `pods.rs` and `worker.rs` run each pod (the
//! kubelet's syncPod), `status.rs` is the pod status it posts and `backoff.rs` the crash-loop
//! back-off, `resync.rs` the periodic rewrite of configMap/secret/downwardAPI/projected
//! volumes; `prepare.rs` turns a pod into what the runtime runs through the pure functions
//! of the modules below: [`container::container_spec`] assembles one container,
//! [`sandbox::sandbox_spec`] the pod's sandbox, [`dns::pod_dns`] its resolv.conf, [`volumes`] sets up, updates and tears down
//! the pod directory; [`images`] is the image manager.

mod agent;
mod backoff;
mod cluster_dns;
pub mod command;
pub mod container;
pub mod context;
pub mod dns;
pub mod env;
pub mod error;
pub mod expansion;
pub mod fieldpath;
mod hooks;
pub mod host;
pub mod host_stats;
pub mod images;
mod network_policy;
mod peers;
mod pods;
mod prepare;
mod pressure;
mod probes;
mod probing;
mod proxy;
mod register;
mod reset;
pub mod resources;
mod resync;
pub mod sandbox;
pub mod security;
pub mod service_env;
mod service_lb;
mod stats;
mod status;
mod streams;
#[cfg(test)]
mod testing;
mod tokens;
pub mod volumes;
mod watch;
mod worker;

pub(crate) use agent::Shared;
pub use agent::{KubeletTls, NodeOptions, RealNode};
pub use reset::reset;
