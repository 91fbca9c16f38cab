//! The krust node agent. Today: simulated nodes ([`sim`]), kubelets without containers that
//! drive pods through their lifecycle through the API, for tests and benchmarks at scale; and
//! the first pieces of the real node ([`node`]: its image manager).
#![forbid(unsafe_code)]

pub mod node;
pub mod sim;
