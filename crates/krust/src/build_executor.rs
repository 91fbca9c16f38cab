//! RUN steps of `krust image build` in containers of krust's own runtime (`krust-runtime`), as
//! the classic builder runs them in containers of dockerd: one sandbox and one container
//! per step (both named `krust-build-<12 hex>`, state under `<data dir>/krust-build/<pid>/`,
//! one directory per build process, cgroups under `krust-build/`), its root an overlay of the image's layers with a fresh
//! upper directory, the **host's network** (as `docker build --network host`; the host's
//! `/etc/resolv.conf` and `/etc/hosts` bind-mounted read-only) and docker's default
//! capabilities. The output is copied from the container's log as it is written; the
//! upper directory is handed to the builder once the process exited, then the container and
//! sandbox are removed whatever happened. A build stopped by a signal removes what runs
//! ([`RuntimeExecutor::cleanup`]); what a killed build left (its process gone) is removed by
//! the next build on the data dir.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use krust_image::build::{Executor, RunStep, rootfs};
use krust_image::{Error, Result};
use krust_runtime::{
    ContainerSpec, ContainerState, Mount, MountKind, Runtime, RuntimeConfig, SandboxSpec, User,
};

/// Where a data dir's build containers live.
pub fn build_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("krust-build")
}

/// Runs RUN steps with krust's runtime.
pub struct RuntimeExecutor {
    runtime: Runtime,
    logs: PathBuf,
}

impl RuntimeExecutor {
    /// An executor whose state is under `<data_dir>/krust-build`. Needs root and a Tokio
    /// runtime.
    pub async fn new(data_dir: &Path) -> anyhow::Result<Self> {
        let dir = build_dir(data_dir);
        reap_stale(&dir).await;
        let dir = dir.join(std::process::id().to_string());
        let runtime = runtime_at(&dir)?;
        Ok(Self {
            runtime,
            logs: dir.join("logs"),
        })
    }

    /// Removes every sandbox and container of this build, and its state directory.
    pub async fn cleanup(&self) {
        remove_all(&self.runtime).await;
        if let Some(dir) = self.logs.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn runtime_at(dir: &Path) -> anyhow::Result<Runtime> {
    Ok(Runtime::new(RuntimeConfig {
        root: dir.join("runtime"),
        monitor: crate::monitor_argv()?,
        cgroup_root: "krust-build".into(),
    })?)
}

async fn remove_all(runtime: &Runtime) {
    for sandbox in runtime.list_sandboxes().await.unwrap_or_default() {
        let _ = runtime.remove_sandbox(&sandbox.id).await;
    }
    runtime.remove_cgroups();
}

/// Removes what builds whose process is gone left under `dir` (`<pid>/`).
async fn reap_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if let Ok(runtime) = runtime_at(&entry.path()) {
            remove_all(&runtime).await;
        }
        let _ = std::fs::remove_dir_all(entry.path());
    }
}

/// Mount points the runtime makes in a root that lacks them; left out of the layer when
/// they are empty and the image did not have them.
const MOUNT_POINTS: &[&str] = &["etc/resolv.conf", "etc/hosts", "proc", "sys", "dev"];

impl Executor for RuntimeExecutor {
    async fn run(
        &self,
        step: &RunStep,
        out: &mut dyn Write,
        diff: &mut dyn FnMut(&Path) -> Result<()>,
    ) -> Result<i32> {
        let rt = |e: krust_runtime::Error| Error::Build(format!("{}: {e}", step.name));
        let user = match step.user.as_str() {
            "" => User::default(),
            u => {
                let (uid, gid) =
                    rootfs::resolve_owner(&step.lower_dirs, u).map_err(Error::Build)?;
                User {
                    uid,
                    gid,
                    additional_gids: Vec::new(),
                }
            }
        };
        let sandbox = self
            .runtime
            .run_sandbox(&SandboxSpec {
                pod_uid: step.name.clone(),
                namespace: "krust-build".into(),
                name: step.name.clone(),
                hostname: step.name.trim_start_matches("krust-build-").into(),
                host_network: true,
                cgroup_parent: step.name.clone(),
                ..Default::default()
            })
            .await
            .map_err(rt)?;
        let log_path = self.logs.join(format!("{}.log", step.name));
        let mounts = ["/etc/resolv.conf", "/etc/hosts"]
            .iter()
            .filter(|p| Path::new(p).is_file())
            .map(|p| Mount {
                destination: p.to_string(),
                kind: MountKind::Bind {
                    source: PathBuf::from(p),
                },
                readonly: true,
            })
            .collect();
        let spec = ContainerSpec {
            sandbox_id: sandbox.id.clone(),
            name: step.name.clone(),
            image: step.name.clone(),
            lower_dirs: step.lower_dirs.iter().rev().cloned().collect(),
            args: step.args.clone(),
            env: step.env.clone(),
            cwd: step.cwd.clone(),
            user,
            capabilities: krust_runtime::DEFAULT_CAPABILITIES
                .iter()
                .map(|c| c.to_string())
                .collect(),
            seccomp_runtime_default: true,
            mounts,
            log_path: log_path.clone(),
            ..Default::default()
        };
        let mut created = None;
        let result = async {
            let id = self.runtime.create_container(&spec).await.map_err(rt)?;
            created = Some(id.clone());
            let mut exits = self.runtime.exits();
            let mut log = LogFollower::default();
            let started = self.runtime.start_container(&id).await;
            let code = loop {
                log.copy(&log_path, out)?;
                if let ContainerState::Exited {
                    exit_code, message, ..
                } = self.runtime.container_status(&id).await.map_err(rt)?.state
                {
                    log.copy(&log_path, out)?;
                    if let Err(e) = &started {
                        writeln!(out, "{}", message.unwrap_or_else(|| e.to_string()))?;
                    }
                    break exit_code;
                }
                let _ = tokio::time::timeout(Duration::from_millis(100), exits.recv()).await;
            };
            let upper = self.runtime.container_upper_dir(&id).map_err(rt)?;
            if code == 0 {
                drop_mount_points(&upper, &step.lower_dirs);
                diff(&upper)?;
            }
            Ok(code)
        }
        .await;
        if let Some(id) = created {
            let _ = self.runtime.remove_container(&id).await;
        }
        let _ = self.runtime.remove_sandbox(&sandbox.id).await;
        let _ = std::fs::remove_file(&log_path);
        let _ = std::fs::remove_dir(log_path.with_extension(""));
        result
    }
}

/// Removes the empty mount points the runtime made in the upper directory.
fn drop_mount_points(upper: &Path, lower: &[PathBuf]) {
    for rel in MOUNT_POINTS {
        let path = upper.join(rel);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if rootfs::lookup(lower, rel).is_some() {
            continue;
        }
        if meta.is_file() && meta.len() == 0 {
            let _ = std::fs::remove_file(&path);
        } else if meta.is_dir() {
            let _ = std::fs::remove_dir(&path); // only when empty
        }
    }
    // `/etc` itself, when the image had none and it only held mount points.
    if rootfs::lookup(lower, "etc").is_none() {
        let _ = std::fs::remove_dir(upper.join("etc"));
    }
}

/// Copies a CRI log file's new content (`<time> <stream> <P|F> <text>`) as plain output.
#[derive(Default)]
struct LogFollower {
    offset: usize,
}

impl LogFollower {
    fn copy(&mut self, path: &Path, out: &mut dyn Write) -> Result<()> {
        let Ok(bytes) = std::fs::read(path) else {
            return Ok(());
        };
        let Some(end) = bytes[self.offset.min(bytes.len())..]
            .iter()
            .rposition(|b| *b == b'\n')
            .map(|i| self.offset + i + 1)
        else {
            return Ok(());
        };
        for line in bytes[self.offset..end].split(|b| *b == b'\n') {
            let mut fields = line.splitn(4, |b| *b == b' ');
            let (_, _, tag, text) = (fields.next(), fields.next(), fields.next(), fields.next());
            if let (Some(tag), Some(text)) = (tag, text) {
                out.write_all(text)?;
                if tag == b"F" {
                    out.write_all(b"\n")?;
                }
            }
        }
        out.flush()?;
        self.offset = end;
        Ok(())
    }
}
