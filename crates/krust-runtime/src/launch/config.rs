//! The part of the OCI runtime spec (`config.json`, runtime-spec 1.0) that `oci.rs` writes
//! and the launcher reads: the process, the root, mounts, namespaces, the cgroup, devices,
//! masked and read-only paths, seccomp; and the cgroup's resources, read when the container
//! is created. Fields it does not write are not read.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Config {
    pub process: Process,
    pub root: Root,
    #[serde(default)]
    pub mounts: Vec<Mount>,
    pub linux: Linux,
}

/// The container's process; also an exec's `process.json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Process {
    #[serde(default)]
    pub terminal: bool,
    pub user: User,
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    pub cwd: String,
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default)]
    pub no_new_privileges: bool,
    pub oom_score_adj: Option<i32>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    #[serde(default)]
    pub additional_gids: Vec<u32>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Capabilities {
    #[serde(default)]
    pub bounding: Vec<String>,
    #[serde(default)]
    pub effective: Vec<String>,
    #[serde(default)]
    pub permitted: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct Root {
    pub path: PathBuf,
    #[serde(default)]
    pub readonly: bool,
}

#[derive(Debug, Deserialize)]
pub struct Mount {
    pub destination: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub source: String,
    #[serde(default)]
    pub options: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Linux {
    pub cgroups_path: String,
    #[serde(default)]
    pub namespaces: Vec<Namespace>,
    #[serde(default)]
    pub masked_paths: Vec<String>,
    #[serde(default)]
    pub readonly_paths: Vec<String>,
    pub seccomp: Option<Seccomp>,
    #[serde(default)]
    pub devices: Vec<Device>,
}

#[derive(Debug, Deserialize)]
pub struct Namespace {
    #[serde(rename = "type")]
    pub kind: String,
    pub path: Option<PathBuf>,
}

/// `linux.resources`: read when the container is created, to make its cgroup
/// (`make_cgroup`); the launch itself needs none of it.
#[derive(Debug, Default, Deserialize)]
pub struct Resources {
    #[serde(default)]
    pub devices: Vec<DeviceRule>,
    pub cpu: Option<Cpu>,
    pub memory: Option<Limit>,
    pub pids: Option<Limit>,
}

/// A device cgroup rule: `allow` or deny `access` (`rwm`) to a type (`c`, `b`, all when
/// absent) and numbers (all when absent).
#[derive(Debug, Deserialize)]
pub struct DeviceRule {
    pub allow: bool,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    #[serde(default)]
    pub access: String,
}

#[derive(Debug, Deserialize)]
pub struct Cpu {
    pub shares: Option<u64>,
    pub quota: Option<i64>,
    pub period: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub struct Limit {
    pub limit: Option<i64>,
}

/// A device node made in the container's `/dev` (a privileged container's host devices).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub path: PathBuf,
    #[serde(rename = "type")]
    pub kind: String,
    pub major: u32,
    pub minor: u32,
    pub file_mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Seccomp {
    pub default_action: String,
    #[serde(default)]
    pub syscalls: Vec<SyscallRule>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    pub names: Vec<String>,
    pub action: String,
    pub errno_ret: Option<u16>,
}
