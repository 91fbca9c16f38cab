//! What the kubelet asks of the runtime and what it gets back: CRI's `PodSandboxConfig`,
//! `ContainerConfig` and `ContainerStatus`, trimmed to what krust's kubelet uses. The
//! kubelet turns a Pod into these (env resolved, volumes materialized on the host, image
//! layers unpacked); the runtime turns them into an OCI bundle.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// A pod sandbox to create: the namespaces and cgroup its containers share.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxSpec {
    /// The pod's uid; the sandbox id is derived from it.
    pub pod_uid: String,
    pub namespace: String,
    pub name: String,
    /// The pod's hostname, set in its UTS namespace.
    pub hostname: String,
    /// `hostNetwork: true`: containers share the host's network namespace.
    pub host_network: bool,
    /// `hostIPC` / `hostPID` share the host's IPC and PID namespaces.
    pub host_ipc: bool,
    pub host_pid: bool,
    /// The pod's cgroup, relative to the runtime's cgroup root, as the kubelet's cgroupfs
    /// driver names it: `pod<uid>` below its QoS class's cgroup (`QOS_CGROUPS`).
    pub cgroup_parent: String,
    /// Pod-level limits written on the pod cgroup (the sum of its containers' limits).
    pub resources: Resources,
}

/// The QoS classes' cgroups, relative to the runtime's cgroup root, as the kubelet's
/// cgroupfs driver names them, deepest first: BestEffort's, Burstable's, Guaranteed's
/// (which is also the parent of the other two). Pods' cgroups go below them; they outlive
/// their pods.
pub const QOS_CGROUPS: [&str; 3] = ["kubepods/besteffort", "kubepods/burstable", "kubepods"];

/// A created sandbox: paths of the held namespaces (bind mounts of `/proc/<pid>/ns/*`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sandbox {
    pub id: String,
    pub spec: SandboxSpec,
    /// `None` with host networking.
    pub netns: Option<PathBuf>,
    pub ipc_ns: Option<PathBuf>,
    pub uts_ns: PathBuf,
}

/// One container to create and start in a sandbox.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSpec {
    pub sandbox_id: String,
    /// The container's name in the pod.
    pub name: String,
    /// How many times this container was started before (its `restartCount`).
    pub attempt: u32,
    /// Stored with the container and given back by `list`, so a restarted kubelet knows
    /// which pod a container belongs to (CRI's labels: `io.kubernetes.pod.uid`, …).
    pub labels: BTreeMap<String, String>,
    /// The image as the pod names it, and the digest it resolved to (`imageID`).
    pub image: String,
    pub image_id: String,
    /// overlayfs lower directories of the image, topmost first (`ImageStore`'s layers).
    pub lower_dirs: Vec<PathBuf>,
    pub readonly_rootfs: bool,
    /// The process: argv (command/args already combined with the image's
    /// entrypoint/cmd), `KEY=value` environment, working directory.
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub user: User,
    /// Capabilities the process holds (bounding, effective, permitted): the container
    /// default set with securityContext's add/drop applied, or all with `privileged`.
    pub capabilities: Vec<String>,
    pub privileged: bool,
    /// `allowPrivilegeEscalation: false` (and the default for non-privileged containers
    /// without CAP_SYS_ADMIN): the process gets `no_new_privs`.
    pub no_new_privileges: bool,
    /// seccompProfile RuntimeDefault.
    pub seccomp_runtime_default: bool,
    /// Volumes (already on the host), `/etc/hosts`, `/etc/resolv.conf`, `/etc/hostname`,
    /// `/dev/termination-log`.
    pub mounts: Vec<Mount>,
    pub resources: Resources,
    pub tty: bool,
    pub stdin: bool,
    pub stdin_once: bool,
    /// CRI-format log file the monitor appends to (`<pod log dir>/<name>/<attempt>.log`).
    pub log_path: PathBuf,
    /// The image's STOPSIGNAL (e.g. `SIGQUIT`); SIGTERM when absent.
    pub stop_signal: Option<String>,
    /// A PID namespace to join (`/proc/<pid>/ns/pid` of another container's process: an
    /// ephemeral container's `targetContainerName`) instead of a new one.
    #[serde(default)]
    pub pid_namespace: Option<PathBuf>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// Path inside the container.
    pub destination: String,
    pub kind: MountKind,
    pub readonly: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MountKind {
    /// A host file or directory bind-mounted (rbind).
    Bind { source: PathBuf },
    /// A fresh tmpfs, optionally limited in size.
    Tmpfs { size_bytes: Option<u64> },
}

/// cgroup (v1) limits; `None` leaves the controller unlimited.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// `cpu.shares` (kubelet: requests.cpu in millicores × 1024 / 1000, at least 2).
    pub cpu_shares: Option<u64>,
    /// `cpu.cfs_quota_us` / `cpu.cfs_period_us` (kubelet: limits.cpu × period, period
    /// 100 ms).
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    /// `memory.limit_in_bytes`.
    pub memory_limit: Option<i64>,
    /// `pids.max`.
    pub pids_limit: Option<i64>,
}

/// What the runtime knows of a container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerStatus {
    pub id: String,
    pub sandbox_id: String,
    pub name: String,
    pub attempt: u32,
    pub labels: BTreeMap<String, String>,
    pub image: String,
    pub image_id: String,
    pub log_path: PathBuf,
    pub state: ContainerState,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContainerState {
    /// Created, its process not started yet.
    Created {
        created_at: SystemTime,
    },
    Running {
        pid: u32,
        started_at: SystemTime,
    },
    /// `reason` is `OOMKilled` when the memory cgroup killed it, else `None` (the kubelet
    /// says `Completed` or `Error` from the code); `message` explains a start failure
    /// (`StartError`, as containerd reports it: e.g. the command was not found, with code 127 or 128).
    Exited {
        exit_code: i32,
        reason: Option<String>,
        message: Option<String>,
        started_at: Option<SystemTime>,
        finished_at: SystemTime,
    },
}
