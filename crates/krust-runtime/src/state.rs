//! The runtime's state directory, the only memory it has (as containerd's metadata plus
//! conmon's exit files): a restarted agent rebuilds everything from these files and
//! `/proc`. Each file is written once, atomically (a temporary file renamed over it).
//!
//! ```text
//! <root>/sandboxes/<id>/sandbox.json  net ipc uts (namespace bind mounts)
//! <root>/containers/<id>/container.json   the spec, creation time, cgroup
//!                        bundle/config.json bundle/rootfs (overlayfs) upper/ work/
//!                        start          claimed (O_EXCL) by the one start call
//!                        monitor        the monitor's pid and start time
//!                        started.json   the container process and when it started
//!                        exit.json      how it ended
//!                        monitor.json   what the monitor is told; monitor.log its errors
//! ```

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Context, Result};
use crate::spec::ContainerSpec;

/// A created container as stored in `container.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub spec: ContainerSpec,
    pub created_at: SystemTime,
    /// The container's cgroup relative to every hierarchy (`/krust/kubepods/pod…/<id>`).
    pub cgroup: String,
}

/// The container's process once it started (`started.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Started {
    pub pid: u32,
    pub started_at: SystemTime,
}

/// How a container ended (`exit.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Exit {
    pub exit_code: i32,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub started_at: Option<SystemTime>,
    pub finished_at: SystemTime,
}

/// What the monitor is told (`monitor.json` in the container directory).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MonitorConfig {
    pub id: String,
    pub log_path: PathBuf,
    pub tty: bool,
    pub cgroup: String,
    /// The container reads stdin from attached clients; `stdin_once`: until the first ends.
    #[serde(default)]
    pub stdin: bool,
    #[serde(default)]
    pub stdin_once: bool,
}

/// The paths of one container directory.
#[derive(Clone, Debug)]
pub struct ContainerDir(pub PathBuf);

impl ContainerDir {
    pub fn record(&self) -> PathBuf {
        self.0.join("container.json")
    }
    pub fn bundle(&self) -> PathBuf {
        self.0.join("bundle")
    }
    pub fn rootfs(&self) -> PathBuf {
        self.0.join("bundle/rootfs")
    }
    pub fn start_claim(&self) -> PathBuf {
        self.0.join("start")
    }
    pub fn monitor(&self) -> PathBuf {
        self.0.join("monitor")
    }
    pub fn monitor_config(&self) -> PathBuf {
        self.0.join("monitor.json")
    }
    pub fn started(&self) -> PathBuf {
        self.0.join("started.json")
    }
    pub fn exit(&self) -> PathBuf {
        self.0.join("exit.json")
    }
}

/// Writes `value` as JSON to `path` through a temporary file renamed over it.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value).context("encoding state")?;
    write_atomic(path, &bytes)
}

/// Writes bytes to `path` through a temporary file renamed over it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).context(format_args!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).context(format_args!("renaming to {}", path.display()))
}

/// Reads a JSON file; `None` when it does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .context(format_args!("decoding {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(crate::Error::io(
            format_args!("reading {}", path.display()),
            e,
        )),
    }
}

/// A process named by pid and start time (clock ticks since boot), so that a recycled pid
/// is not taken for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessId {
    pub pid: u32,
    pub start_time: u64,
}

impl ProcessId {
    /// The process with this pid now, if any.
    pub fn of(pid: u32) -> Option<ProcessId> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command (which may hold spaces and parentheses): state is
        // field 3, starttime field 22.
        let rest = &stat[stat.rfind(')')? + 2..];
        let start_time = rest.split(' ').nth(19)?.parse().ok()?;
        Some(ProcessId { pid, start_time })
    }

    /// Whether this very process still exists (a zombie counts as gone).
    pub fn alive(&self) -> bool {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) else {
            return false;
        };
        let Some(close) = stat.rfind(')') else {
            return false;
        };
        let rest = &stat[close + 2..];
        let zombie = rest.starts_with('Z') || rest.starts_with('X');
        !zombie && ProcessId::of(self.pid) == Some(*self)
    }

    pub fn encode(&self) -> String {
        format!("{} {}", self.pid, self.start_time)
    }

    pub fn decode(text: &str) -> Option<ProcessId> {
        let (pid, start) = text.trim().split_once(' ')?;
        Some(ProcessId {
            pid: pid.parse().ok()?,
            start_time: start.parse().ok()?,
        })
    }

    /// Reads a file holding an encoded process id.
    pub fn read(path: &Path) -> Option<ProcessId> {
        ProcessId::decode(&std::fs::read_to_string(path).ok()?)
    }
}

/// 64 random hex digits: a container id.
pub fn random_id() -> String {
    let mut bytes = [0u8; 32];
    let _ = rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty());
    hex(&bytes)
}

/// The sandbox id of a pod: the SHA-256 of its uid, so that asking twice gives one sandbox.
pub fn sandbox_id(pod_uid: &str) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(pod_uid.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
