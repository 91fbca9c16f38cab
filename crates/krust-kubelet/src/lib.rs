//! The krust node agent. Today: simulated nodes ([`sim`]), kubelets without containers that
//! drive pods through their lifecycle through the API, for tests and benchmarks at scale; and
//! the kubelet's HTTPS streaming API ([`server`]: logs, exec, attach, port-forward).
#![forbid(unsafe_code)]

pub mod server;
pub mod sim;
