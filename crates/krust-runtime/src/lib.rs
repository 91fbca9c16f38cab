//! krust's builtin container runtime, shaped like CRI's RuntimeService: pod sandboxes (held
//! network, IPC and UTS namespaces plus a cgroup parent; no pause process) and containers
//! described as OCI bundles and started by its own OCI runtime (`launch/`), each under a
//! small monitor process (the krust binary re-executed) that starts it, holds its stdio,
//! writes CRI-format logs and records its exit, so containers outlive the agent and a
//! restarted agent adopts them.

mod attach;
mod attaching;
pub mod capabilities;
mod cgroup;
mod console;
mod container;
mod dynmods;
mod error;
mod exec;
mod exits;
#[allow(unsafe_code)]
mod kernel;
mod launch;
mod monitor;
mod oci;
mod pty;
mod runtime;
mod sandbox;
mod seccomp;
mod spare;
pub mod spec;
mod state;
mod status;
mod stop;

pub use capabilities::DEFAULT_CAPABILITIES;
pub use cgroup::ContainerStats;
pub use dynmods::favor_dynamic_changes;
pub use error::{Error, Result};
pub use exec::Exec;
pub use monitor::monitor_main;
pub use runtime::{Runtime, RuntimeConfig};
pub use spec::{
    ContainerSpec, ContainerState, ContainerStatus, Mount, MountKind, QOS_CGROUPS, Resources,
    Sandbox, SandboxSpec, User,
};
