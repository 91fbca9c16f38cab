//! The krust node agent. Today: simulated nodes ([`sim`]), kubelets without containers that
//! drive pods through their lifecycle through the API, for tests and benchmarks at scale; and
//! the real node ([`node`]: the kubelet of this host, running real containers) and its HTTPS
//! streaming API ([`server`]: logs, exec, attach, port-forward).
#![forbid(unsafe_code)]

mod events;
mod lease;
pub mod node;
mod pod_conditions;
mod pod_workers;
mod registration;
pub mod server;
pub mod sim;
