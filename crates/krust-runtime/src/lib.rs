//! krust's builtin container runtime, shaped like CRI's RuntimeService: pod sandboxes (held
//! network, IPC and UTS namespaces plus a cgroup parent; no pause process) and containers
//! run by the OCI runtime crun, each under a small monitor process (the krust binary
//! re-executed) that holds its stdio, writes CRI-format logs and records its exit, so
//! containers outlive the agent and a restarted agent adopts them.

pub mod spec;

pub use spec::{
    ContainerSpec, ContainerState, ContainerStatus, Mount, MountKind, Resources, Sandbox,
    SandboxSpec, User,
};
