//! What the runtime's tests share: a busybox root filesystem, a runtime over a temporary
//! state directory with its own cgroup root (`krt-<pid>-<n>`), and a guard that removes
//! everything the test made, also when it fails.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use krust_runtime::{
    ContainerSpec, ContainerState, Resources, Runtime, RuntimeConfig, Sandbox, SandboxSpec,
};

pub const MONITOR: &str = env!("CARGO_BIN_EXE_krust-runtime-monitor");

/// A runtime over a temporary state directory; dropping it removes what it made.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub config: RuntimeConfig,
    pub runtime: Runtime,
    pub rootfs: PathBuf,
}

static COUNT: AtomicU32 = AtomicU32::new(0);

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::Builder::new().prefix("krt-").tempdir().unwrap();
        let rootfs = busybox_rootfs(&dir.path().join("image"));
        let n = COUNT.fetch_add(1, Ordering::SeqCst);
        let config = RuntimeConfig {
            root: dir.path().join("state"),
            monitor: vec![MONITOR.into()],
            cgroup_root: format!("krt-{}-{n}", std::process::id()),
        };
        let runtime = Runtime::new(config.clone()).unwrap();
        Fixture {
            dir,
            config,
            runtime,
            rootfs,
        }
    }

    /// A sandbox for a pod named `name`.
    pub async fn sandbox(&self, name: &str) -> Sandbox {
        let spec = SandboxSpec {
            pod_uid: format!("{}-{name}", self.config.cgroup_root),
            namespace: "default".into(),
            name: name.into(),
            hostname: name.into(),
            cgroup_parent: format!("kubepods/besteffort/pod{name}"),
            ..Default::default()
        };
        self.runtime.run_sandbox(&spec).await.unwrap()
    }

    /// A container spec running `args` in `sandbox`, logging under the test directory.
    pub fn container(&self, sandbox: &Sandbox, name: &str, args: &[&str]) -> ContainerSpec {
        ContainerSpec {
            sandbox_id: sandbox.id.clone(),
            name: name.into(),
            image: "busybox".into(),
            lower_dirs: vec![self.rootfs.clone()],
            args: args.iter().map(|a| a.to_string()).collect(),
            cwd: "/".into(),
            capabilities: krust_runtime::DEFAULT_CAPABILITIES
                .iter()
                .map(|c| c.to_string())
                .collect(),
            no_new_privileges: true,
            seccomp_runtime_default: true,
            log_path: self.dir.path().join("logs").join(name).join("0.log"),
            resources: Resources::default(),
            ..Default::default()
        }
    }

    /// Creates and starts a container, returning its id.
    pub async fn run(&self, spec: &ContainerSpec) -> String {
        let id = self.runtime.create_container(spec).await.unwrap();
        self.runtime.start_container(&id).await.unwrap();
        id
    }

    /// Waits for the container to have exited; its exit code.
    pub async fn exit_code(&self, id: &str) -> i32 {
        let mut exits = self.runtime.exits();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let ContainerState::Exited { exit_code, .. } =
                self.runtime.container_status(id).await.unwrap().state
            {
                return exit_code;
            }
            assert!(tokio::time::Instant::now() < deadline, "{id} did not exit");
            let _ = tokio::time::timeout(Duration::from_millis(200), exits.recv()).await;
        }
    }

    /// The CRI log of a container spec.
    pub fn log(&self, spec: &ContainerSpec) -> String {
        std::fs::read_to_string(&spec.log_path).unwrap_or_default()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let state = &self.config.root;
        // Kill what still runs: container processes, then their monitors.
        for container in dirs(&state.join("containers")) {
            if let Some(pid) = std::fs::read_to_string(container.join("started.json"))
                .ok()
                .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
                .and_then(|v| v["pid"].as_u64())
                .and_then(|pid| rustix::process::Pid::from_raw(pid as i32))
            {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
        for container in dirs(&state.join("containers")) {
            umount_all(&container.join("bundle/rootfs"));
        }
        for sandbox in dirs(&state.join("sandboxes")) {
            for ns in ["net", "ipc", "uts"] {
                umount_all(&sandbox.join(ns));
            }
        }
        for hierarchy in dirs(Path::new("/sys/fs/cgroup")) {
            remove_cgroup_tree(&hierarchy.join(&self.config.cgroup_root));
        }
    }
}

fn dirs(path: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

fn umount_all(path: &Path) {
    for _ in 0..8 {
        if !std::process::Command::new("umount")
            .args(["-l"])
            .arg(path)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            break;
        }
    }
}

fn remove_cgroup_tree(dir: &Path) {
    if !dir.is_dir() {
        return;
    }
    for child in dirs(dir) {
        if child.is_dir() {
            remove_cgroup_tree(&child);
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// An image of one layer: busybox and a link per applet.
pub fn busybox_rootfs(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for sub in ["tmp", "etc", "proc", "sys", "dev"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let busybox = bin.join("busybox");
    if std::fs::hard_link("/usr/bin/busybox", &busybox).is_err() {
        std::fs::copy("/usr/bin/busybox", &busybox).unwrap();
    }
    let list = std::process::Command::new("/usr/bin/busybox")
        .arg("--list")
        .output()
        .unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" && !applet.contains('/') && !applet.is_empty() {
            let _ = std::os::unix::fs::symlink("busybox", bin.join(applet));
        }
    }
    dir.to_path_buf()
}

/// Mount points under `dir` in this mount namespace (other tests mount elsewhere at the
/// same time), but the spare network namespace's (no pod's, made a moment after a sandbox).
pub fn mounts_under(dir: &Path) -> usize {
    mount_points(dir)
        .iter()
        .filter(|point| !point.ends_with("sandboxes/spare/net"))
        .count()
}

/// Every mount point under `dir` in this mount namespace.
pub fn mount_points(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(PathBuf::from)
        .filter(|point| point.starts_with(dir))
        .collect()
}

/// Processes whose command line or cgroup names `needle`.
pub fn processes_naming(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cgroup = std::fs::read_to_string(entry.path().join("cgroup")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(needle) || cgroup.contains(needle) {
            out.push(pid);
        }
    }
    out
}

/// cgroup directories named `name` in any hierarchy.
pub fn cgroup_dirs(name: &str) -> usize {
    dirs(Path::new("/sys/fs/cgroup"))
        .iter()
        .filter(|h| h.join(name).exists())
        .count()
}

/// The cgroups below `name` in any hierarchy, relative to it, sorted and each once.
pub fn cgroups_below(name: &str) -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for child in dirs(dir).into_iter().filter(|c| c.is_dir()) {
            out.push(child.strip_prefix(base).unwrap().display().to_string());
            walk(&child, base, out);
        }
    }
    let mut out = Vec::new();
    for hierarchy in dirs(Path::new("/sys/fs/cgroup")) {
        let base = hierarchy.join(name);
        walk(&base, &base, &mut out);
    }
    out.sort();
    out.dedup();
    out
}
