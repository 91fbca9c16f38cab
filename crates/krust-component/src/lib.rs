//! What every component of a krust cluster runs on (the scheduler, the controller manager, the
//! node agents, and the tools that drive them): an API client from a kubeconfig, leader
//! election through a Lease, supervision of long-running loops, the one Event recorder, and
//! lean views that decode only the fields a component reads.
#![forbid(unsafe_code)]

pub mod client;
pub mod events;
pub mod leader;
pub mod supervise;
pub mod view;
