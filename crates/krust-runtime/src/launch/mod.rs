//! krust's own OCI runtime: a container's process started from its bundle's `config.json`
//! (`run`, what `runc run --detach` does) and a process started in a running container
//! (`exec`, `runc exec`), by the monitor, which calls them before it has a thread of its
//! own. Its cgroup with its limits and device rules is made before, when the container is
//! created (`make_cgroup`). Before the fork: the namespaces to join opened, a new PID
//! namespace for the children (or one joined), the seccomp program compiled, the cgroup's
//! `cgroup.procs` opened. In the child, before it execs: the namespaces joined, a new mount
//! namespace with the container's filesystem (`mounts.rs`), the cgroup joined, then
//! `process.rs`. A failure there reaches the monitor as a message on a pipe, worded as runc
//! words it.

pub mod config;
mod mounts;
mod process;
mod within;

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rustix::thread::{LinkNameSpaceType, UnshareFlags};

pub use config::{Config, Process};
pub(crate) use mounts::private_mount_namespace;

use crate::cgroup::{self, DeviceRule};
use crate::seccomp::filter::{self, Instruction};
use crate::spec::Resources;

/// Why a start failed, as the monitor reports it.
#[derive(Debug)]
pub struct Failure {
    message: String,
}

impl Failure {
    fn new(what: impl Into<String>, e: io::Error) -> Failure {
        Failure {
            message: format!("{}: {e}", what.into()),
        }
    }

    fn message(message: String) -> Failure {
        Failure { message }
    }
}

/// A failure of the runtime's own code (its cgroups), worded as that code words it.
impl From<crate::Error> for Failure {
    fn from(e: crate::Error) -> Failure {
        Failure::message(e.to_string())
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The container's standard streams.
pub struct Stdio3 {
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
}

/// Reads a bundle's `config.json`.
pub fn read_config(bundle: &Path) -> Result<Config, Failure> {
    let bytes = std::fs::read(bundle.join("config.json"))
        .map_err(|e| Failure::new("reading config.json", e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Failure::message(format!("reading config.json: {e}")))
}

/// Makes the container's cgroup (`linux.cgroupsPath`) with the limits and device rules of
/// its `linux.resources`: before `run`, when the container is created (as `runc create`
/// makes it).
pub fn make_cgroup(cgroup: &str, resources: &config::Resources) -> Result<(), Failure> {
    cgroup::create(cgroup, &self::resources(resources))
        .and_then(|()| cgroup::restrict_devices(cgroup, &device_rules(resources)))
        .map_err(|e| Failure::message(format!("making the cgroup: {e}")))
}

/// Starts the container of `bundle` (its cgroup made, `make_cgroup`) with `stdio` (with a
/// terminal, the process's own, whose master it sends on `console`); its process's id. The
/// caller reaps it.
pub fn run(
    bundle: &Path,
    config: Config,
    stdio: Stdio3,
    console: Option<OwnedFd>,
) -> Result<u32, Failure> {
    let linux = &config.linux;
    let cgroup = linux.cgroups_path.clone();
    let mut joins = Vec::new();
    let mut new_mounts = false;
    for ns in &linux.namespaces {
        match (ns.kind.as_str(), &ns.path) {
            ("mount", None) => new_mounts = true,
            ("pid", None) => {
                #[allow(deprecated)] // unshare_unsafe's only unsafety is CLONE_FILES
                rustix::thread::unshare(UnshareFlags::NEWPID)
                    .map_err(|e| Failure::new("a new PID namespace", e.into()))?;
            }
            ("pid", Some(path)) => {
                let fd = open_namespace(path)?;
                rustix::thread::move_into_link_name_space(
                    fd.as_fd(),
                    Some(LinkNameSpaceType::ProcessID),
                )
                .map_err(|e| Failure::new(format!("joining {}", path.display()), e.into()))?;
            }
            (kind, Some(path)) => joins.push((namespace_type(kind)?, open_namespace(path)?)),
            (kind, None) => {
                return Err(Failure::message(format!(
                    "a new {kind} namespace is not supported"
                )));
            }
        }
    }
    if !new_mounts {
        return Err(Failure::message(
            "a container needs a mount namespace".into(),
        ));
    }
    let child = Child {
        cgroup_procs: cgroup::open_procs(&cgroup)?,
        joins,
        root: Some(bundle.join(&config.root.path)),
        seccomp: seccomp(&config)?,
        last_cap: last_cap(),
        console,
        config,
    };
    spawn(child, stdio)
}

/// Starts `process` in the running container whose first process is `pid`, with the
/// container's cgroup and seccomp program from `config` (and a terminal's master sent on
/// `console`, as `run`); returns the child to wait for.
pub fn exec(
    pid: u32,
    config: Config,
    process: Process,
    stdio: Stdio3,
    console: Option<OwnedFd>,
) -> Result<u32, Failure> {
    let ns = |name: &str| PathBuf::from(format!("/proc/{pid}/ns/{name}"));
    let own_pid = config.linux.namespaces.iter().any(|n| n.kind == "pid");
    if own_pid {
        let fd = open_namespace(&ns("pid"))?;
        rustix::thread::move_into_link_name_space(fd.as_fd(), Some(LinkNameSpaceType::ProcessID))
            .map_err(|e| Failure::new("joining the PID namespace", e.into()))?;
    }
    let mut joins = Vec::new();
    for (name, kind) in [
        ("net", LinkNameSpaceType::Network),
        ("ipc", LinkNameSpaceType::InterProcessCommunication),
        ("uts", LinkNameSpaceType::HostNameAndNISDomainName),
        ("mnt", LinkNameSpaceType::Mount),
    ] {
        joins.push((kind, open_namespace(&ns(name))?));
    }
    let seccomp = seccomp(&config)?;
    let mut config = config;
    config.process = process;
    let child = Child {
        cgroup_procs: cgroup::open_procs(&config.linux.cgroups_path)?,
        joins,
        root: None,
        seccomp,
        last_cap: last_cap(),
        console,
        config,
    };
    spawn(child, stdio)
}

/// What the child does between fork and exec.
struct Child {
    config: Config,
    /// Each hierarchy's `cgroup.procs` of the container's cgroup, opened before the fork.
    cgroup_procs: Vec<(PathBuf, File)>,
    joins: Vec<(LinkNameSpaceType, OwnedFd)>,
    /// The root to make the container's filesystem from; `None` to keep the one the mount
    /// namespace joined has.
    root: Option<PathBuf>,
    seccomp: Option<Vec<Instruction>>,
    last_cap: u32,
    /// Where to send the terminal's master, when the process has one.
    console: Option<OwnedFd>,
}

impl Child {
    fn setup(&self) -> Result<(), Failure> {
        for (kind, fd) in &self.joins {
            rustix::thread::move_into_link_name_space(fd.as_fd(), Some(*kind))
                .map_err(|e| Failure::new(format!("joining a {kind:?} namespace"), e.into()))?;
        }
        if let Some(root) = &self.root {
            mounts::private_mount_namespace()
                .map_err(|e| Failure::new("a new private mount namespace", e))?;
            mounts::prepare(root, &self.config)?;
        }
        if self.config.process.terminal {
            self.terminal()
                .map_err(|e| Failure::new("making the terminal", e))?;
        }
        if let Some(adj) = self.config.process.oom_score_adj {
            let path = "/proc/self/oom_score_adj";
            let current = std::fs::read_to_string(path).unwrap_or_default();
            if current.trim() != adj.to_string() {
                std::fs::write(path, adj.to_string())
                    .map_err(|e| Failure::new("writing oom_score_adj", e))?;
            }
        }
        // Last: what making the filesystem read into the page cache (directory and inode
        // blocks) stays charged to the runtime, not to a cgroup removed with the container,
        // which those pages would keep alive (a dying memory cgroup) until reclaimed.
        for (path, procs) in &self.cgroup_procs {
            let mut procs: &File = procs;
            procs
                .write_all(b"0")
                .map_err(|e| Failure::new(format!("joining {}", path.display()), e))?;
        }
        process::finish(&self.config.process, self.seccomp.as_deref(), self.last_cap)
    }

    /// A terminal on the container's own `/dev/pts`: its master sent on the console
    /// socket, its other side this process's stdio.
    fn terminal(&self) -> io::Result<()> {
        use rustix::pty::OpenptFlags;
        let console = self
            .console
            .as_ref()
            .ok_or_else(|| io::Error::other("no console socket"))?;
        let master =
            rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
        rustix::pty::grantpt(&master)?;
        rustix::pty::unlockpt(&master)?;
        let name = rustix::pty::ptsname(&master, Vec::new())?;
        let pts = rustix::fs::open(
            name.as_c_str(),
            rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NOCTTY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )?;
        crate::console::send_terminal(console, &master)?;
        rustix::stdio::dup2_stdin(&pts)?;
        rustix::stdio::dup2_stdout(&pts)?;
        rustix::stdio::dup2_stderr(&pts)?;
        Ok(())
    }
}

/// Forks and execs the child's process; a failure before the exec comes back on a pipe.
fn spawn(child: Child, stdio: Stdio3) -> Result<u32, Failure> {
    let process = &child.config.process;
    let Some(program) = process.args.first().cloned() else {
        return Err(Failure::message("no command".into()));
    };
    let mut command = Command::new(&program);
    command.args(&process.args[1..]).env_clear();
    for pair in &process.env {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        command.env(key, value);
    }
    command
        .stdin(stdio.stdin)
        .stdout(stdio.stdout)
        .stderr(stdio.stderr);
    let (mut report, report_w) = pipe()?;
    let mut report_w = Some(File::from(report_w));
    let spawned = crate::kernel::spawn_with_setup(&mut command, move || {
        child.setup().map_err(|failure| {
            if let Some(w) = report_w.as_mut() {
                let _ = w.write_all(failure.message.as_bytes());
            }
            io::Error::other("setup failed")
        })
    });
    drop(command); // the write end's last copy here, so the read below ends
    match spawned {
        Ok(child) => Ok(child.id()),
        Err(e) => {
            let mut message = String::new();
            let _ = report.read_to_string(&mut message);
            if message.is_empty() {
                Err(Failure::new(format!("exec: {program:?}"), e))
            } else {
                Err(Failure::message(message))
            }
        }
    }
}

fn pipe() -> Result<(File, OwnedFd), Failure> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| Failure::new("pipe", e.into()))?;
    Ok((File::from(r), w))
}

fn open_namespace(path: &Path) -> Result<OwnedFd, Failure> {
    File::open(path)
        .map(OwnedFd::from)
        .map_err(|e| Failure::new(format!("opening {}", path.display()), e))
}

fn namespace_type(kind: &str) -> Result<LinkNameSpaceType, Failure> {
    Ok(match kind {
        "network" => LinkNameSpaceType::Network,
        "ipc" => LinkNameSpaceType::InterProcessCommunication,
        "uts" => LinkNameSpaceType::HostNameAndNISDomainName,
        other => {
            return Err(Failure::message(format!(
                "joining a {other} namespace is not supported"
            )));
        }
    })
}

/// The compiled seccomp program of the spec, if it has one.
fn seccomp(config: &Config) -> Result<Option<Vec<Instruction>>, Failure> {
    let Some(profile) = &config.linux.seccomp else {
        return Ok(None);
    };
    let supported = profile.default_action == "SCMP_ACT_ALLOW"
        && profile
            .syscalls
            .iter()
            .all(|r| r.action == "SCMP_ACT_ERRNO");
    if !supported {
        return Err(Failure::message(
            "seccomp: only deny-lists (allow by default, errors for the listed calls) are supported"
                .into(),
        ));
    }
    let mut names = Vec::new();
    let mut errno = 1;
    for rule in &profile.syscalls {
        names.extend(rule.names.iter().cloned());
        errno = rule.errno_ret.unwrap_or(errno);
    }
    filter::compile(&names, errno)
        .map(Some)
        .map_err(Failure::message)
}

/// The spec's limits as the cgroup module takes them.
fn resources(r: &config::Resources) -> Resources {
    Resources {
        cpu_shares: r.cpu.as_ref().and_then(|c| c.shares),
        cpu_quota: r.cpu.as_ref().and_then(|c| c.quota),
        cpu_period: r.cpu.as_ref().and_then(|c| c.period),
        memory_limit: r.memory.as_ref().and_then(|m| m.limit),
        pids_limit: r.pids.as_ref().and_then(|p| p.limit),
    }
}

fn device_rules(r: &config::Resources) -> Vec<DeviceRule> {
    r.devices
        .iter()
        .map(|d| DeviceRule {
            allow: d.allow,
            kind: d
                .kind
                .as_deref()
                .and_then(|k| k.chars().next())
                .unwrap_or('a'),
            major: d.major,
            minor: d.minor,
            access: if d.access.is_empty() {
                "rwm".into()
            } else {
                d.access.clone()
            },
        })
        .collect()
}

/// The highest capability number this kernel knows.
fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}
