//! The real node's pure parts: from a Pod to what the runtime runs (the kubelet's
//! `kuberuntime_container.go` and `kubelet_pods.go`), and the pod's volumes on the host.
//! [`container::container_spec`] assembles one container; [`sandbox::sandbox_spec`] the pod's
//! sandbox; [`volumes`] sets up, updates and tears down the pod directory.

pub mod command;
pub mod container;
pub mod context;
pub mod env;
pub mod error;
pub mod expansion;
pub mod fieldpath;
pub mod images;
pub mod quantity;
pub mod resources;
pub mod sandbox;
pub mod security;
#[cfg(test)]
mod testing;
pub mod volumes;
