//! cgroup v1 directories, as the kubelet's cgroupfs driver and runc's `fs` cgroup manager
//! keep them: one directory per pod in every mounted hierarchy (`<mount>/<root>/<parent>`),
//! pod limits written there, container cgroups (made by the launcher) below with theirs and
//! their device rules; counters read for stats and OOM kills.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::error::{Context, Result};
use crate::spec::Resources;

/// Where the cgroup hierarchies are mounted.
pub const MOUNT: &str = "/sys/fs/cgroup";

/// Every mounted hierarchy (`cpu`, `memory`, …, `systemd`, `unified`), each once even when
/// controllers are co-mounted and linked under several names.
pub fn hierarchies() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    let Ok(entries) = std::fs::read_dir(MOUNT) else {
        return out;
    };
    for entry in entries.flatten() {
        let Ok(real) = std::fs::canonicalize(entry.path()) else {
            continue;
        };
        if real.is_dir() && !out.contains(&real) {
            out.push(real);
        }
    }
    out.sort();
    out
}

/// The path of a cgroup relative to every hierarchy: `/<root>/<parent>[/<leaf>]`.
pub fn relative(root: &str, parent: &str, leaf: Option<&str>) -> String {
    let mut path = String::new();
    for part in [Some(root), Some(parent), leaf].into_iter().flatten() {
        for piece in part.split('/').filter(|p| !p.is_empty()) {
            path.push('/');
            path.push_str(piece);
        }
    }
    path
}

/// Creates a pod's or a container's cgroup in every hierarchy and writes its limits.
pub fn create(relative: &str, resources: &Resources) -> Result<()> {
    for hierarchy in hierarchies() {
        let dir = join(&hierarchy, relative);
        std::fs::create_dir_all(&dir).context(format_args!("creating {}", dir.display()))?;
        if hierarchy.ends_with("cpuset") {
            init_cpuset(&hierarchy, relative)?;
        }
    }
    write_limits(relative, resources)
}

/// A new cpuset cgroup has no CPUs or memory nodes; take its parent's, top down.
fn init_cpuset(hierarchy: &Path, relative: &str) -> Result<()> {
    let mut dir = hierarchy.to_path_buf();
    for piece in relative.split('/').filter(|p| !p.is_empty()) {
        let parent = dir.clone();
        dir.push(piece);
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let current = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
            if current.trim().is_empty() {
                let value = std::fs::read_to_string(parent.join(file)).unwrap_or_default();
                std::fs::write(dir.join(file), value.trim())
                    .context(format_args!("writing {}", dir.join(file).display()))?;
            }
        }
    }
    Ok(())
}

fn write_limits(relative: &str, r: &Resources) -> Result<()> {
    let mut writes: Vec<(&str, &str, String)> = Vec::new();
    if let Some(v) = r.cpu_shares {
        writes.push(("cpu", "cpu.shares", v.to_string()));
    }
    if let Some(v) = r.cpu_period {
        writes.push(("cpu", "cpu.cfs_period_us", v.to_string()));
    }
    if let Some(v) = r.cpu_quota {
        writes.push(("cpu", "cpu.cfs_quota_us", v.to_string()));
    }
    if let Some(v) = r.memory_limit {
        writes.push(("memory", "memory.limit_in_bytes", v.to_string()));
    }
    if let Some(v) = r.pids_limit {
        writes.push(("pids", "pids.max", v.to_string()));
    }
    for (controller, file, value) in writes {
        let path = join(&Path::new(MOUNT).join(controller), relative).join(file);
        std::fs::write(&path, &value)
            .context(format_args!("writing {value} to {}", path.display()))?;
    }
    Ok(())
}

/// A device cgroup rule as `devices.allow`/`devices.deny` take it: `c 1:3 rwm`, `a` for
/// every device.
pub struct DeviceRule {
    pub allow: bool,
    /// `c`, `b`, or `a` (all).
    pub kind: char,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

/// Writes a container's device rules in order (runc's `fs` devices manager; the first
/// usually denies everything).
pub fn restrict_devices(relative: &str, rules: &[DeviceRule]) -> Result<()> {
    let dir = join(&Path::new(MOUNT).join("devices"), relative);
    for rule in rules {
        let number = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
        let line = if rule.kind == 'a' {
            "a".to_string()
        } else {
            format!(
                "{} {}:{} {}",
                rule.kind,
                number(rule.major),
                number(rule.minor),
                rule.access
            )
        };
        let file = dir.join(if rule.allow {
            "devices.allow"
        } else {
            "devices.deny"
        });
        std::fs::write(&file, &line)
            .context(format_args!("writing {line:?} to {}", file.display()))?;
    }
    Ok(())
}

/// The `cgroup.procs` file of a cgroup in every hierarchy, open for writing (close-on-exec):
/// writing `0` there moves the writer in.
pub fn open_procs(relative: &str) -> Result<Vec<(PathBuf, File)>> {
    hierarchies()
        .iter()
        .map(|h| {
            let path = join(h, relative).join("cgroup.procs");
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .context(format_args!("opening {}", path.display()))?;
            Ok((path, file))
        })
        .collect()
}

/// Removes a cgroup from every hierarchy (its ancestors stay, as the kubelet's QoS
/// cgroups do). A cgroup whose last tasks are still exiting is busy for a moment: retried
/// for up to a second.
pub fn remove(relative: &str) -> Result<()> {
    for hierarchy in hierarchies() {
        let dir = join(&hierarchy, relative);
        if dir.exists() {
            rmdir_retrying(&dir)?;
        }
    }
    Ok(())
}

/// Removes cgroups from every hierarchy, in the order given, where they are empty (no
/// task, no cgroup below); the others stay.
pub fn remove_if_empty(relatives: &[String]) {
    for hierarchy in hierarchies() {
        for relative in relatives {
            let _ = std::fs::remove_dir(join(&hierarchy, relative));
        }
    }
}

fn rmdir_retrying(dir: &Path) -> Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if std::time::Instant::now() > deadline => {
                return Err(crate::Error::io(
                    format_args!("removing {}", dir.display()),
                    e,
                ));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Kills every process left in a cgroup (a container without its own pid namespace can
/// leave some behind its first process).
pub fn kill_all(relative: &str) {
    let procs = join(&Path::new(MOUNT).join("pids"), relative).join("cgroup.procs");
    for pid in std::fs::read_to_string(procs).unwrap_or_default().lines() {
        if let Some(pid) = pid
            .trim()
            .parse()
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

/// How many times the memory cgroup's OOM killer killed a task in it.
pub fn oom_kills(relative: &str) -> u64 {
    let path = join(&Path::new(MOUNT).join("memory"), relative).join("memory.oom_control");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    field(&text, "oom_kill").unwrap_or(0)
}

/// A container's CPU and memory use, as cAdvisor reads it from cgroup v1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerStats {
    /// When the counters were read.
    pub timestamp: SystemTime,
    /// `cpuacct.usage`: CPU time used, in nanoseconds.
    pub cpu_usage_ns: u64,
    /// `memory.usage_in_bytes`.
    pub memory_usage_bytes: u64,
    /// The working set: usage minus `total_inactive_file` (never below zero), what the
    /// kubelet evicts on and `kubectl top` shows.
    pub memory_working_set_bytes: u64,
}

/// Reads a container cgroup's counters.
pub fn stats(relative: &str) -> Result<ContainerStats> {
    let read = |controller: &str, file: &str| {
        let path = join(&Path::new(MOUNT).join(controller), relative).join(file);
        std::fs::read_to_string(&path).context(format_args!("reading {}", path.display()))
    };
    let timestamp = SystemTime::now();
    let cpu_usage_ns = read("cpuacct", "cpuacct.usage")?
        .trim()
        .parse()
        .unwrap_or(0);
    let memory_usage_bytes: u64 = read("memory", "memory.usage_in_bytes")?
        .trim()
        .parse()
        .unwrap_or(0);
    let inactive = field(&read("memory", "memory.stat")?, "total_inactive_file").unwrap_or(0);
    Ok(ContainerStats {
        timestamp,
        cpu_usage_ns,
        memory_usage_bytes,
        memory_working_set_bytes: memory_usage_bytes.saturating_sub(inactive),
    })
}

/// The value of `name` in a `key value` per line file.
fn field(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(' ')?;
        (key == name).then(|| value.trim().parse().ok()).flatten()
    })
}

fn join(hierarchy: &Path, relative: &str) -> PathBuf {
    hierarchy.join(relative.trim_start_matches('/'))
}
