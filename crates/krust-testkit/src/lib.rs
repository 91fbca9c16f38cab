//! Test support, the one harness of krust's integration tests: an in-process API server over
//! a temporary store and a kube-rs client of it ([`start`]), controllers run in the background
//! ([`spawn`]), waiting for what they do within a deadline ([`eventually`], the one poller, and
//! [`next_within`] for streams), object builders ([`configmap`], [`pod`], [`deployment`],
//! [`pod_json`]), calls through the API ([`create`], [`namespace`], [`set_pod_status`]) and the
//! [`status`] of a failed request. [`scheduling`] holds nodes with allocatable resources, pods
//! with requests and what a scheduler does to them.
//!
//! It depends on the API server and the store only, so that every crate's tests can use it,
//! krust-apiserver's own integration tests included.
#![forbid(unsafe_code)]

mod calls;
mod objects;
pub mod scheduling;
mod server;
mod spawn;
mod wait;

pub use calls::{create, names, namespace, registered_watchers, set_pod_status, status};
pub use objects::{configmap, deployment, pod, pod_json};
pub use server::{TestServer, client_for, start, start_with_options};
pub use spawn::{Spawned, spawn, trace};
pub use wait::{eventually, next_within};
