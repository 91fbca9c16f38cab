//! Containers: the bundle (an overlayfs root over the image's layers, with upper and work
//! directories of its own, and the OCI `config.json`) and its cgroup, the start (a detached
//! monitor, as CRI-O starts conmon), the removal (nothing left: process, mount, cgroup,
//! files).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use tokio::io::AsyncBufReadExt;

use crate::error::{Context, Result};
use crate::runtime::Runtime;
use crate::spec::{ContainerSpec, ContainerState};
use crate::state::{self, ContainerDir, ContainerRecord, MonitorConfig};
use crate::{Error, cgroup, launch, oci};

impl Runtime {
    /// Creates a container in its sandbox: root filesystem and OCI bundle, not started.
    /// Returns its id (64 hex digits).
    pub async fn create_container(&self, spec: &ContainerSpec) -> Result<String> {
        let sandbox = self.sandbox(&spec.sandbox_id)?;
        if spec.lower_dirs.is_empty() {
            return Err(Error::Other("no image layers (lower_dirs is empty)".into()));
        }
        let id = state::random_id();
        let dir = self.container_dir(&id);
        let cgroup = cgroup::relative(
            &self.config().cgroup_root,
            &sandbox.spec.cgroup_parent,
            Some(&id),
        );
        let record = ContainerRecord {
            id: id.clone(),
            spec: spec.clone(),
            created_at: SystemTime::now(),
            cgroup: cgroup.clone(),
        };
        let config = oci::config(spec, &sandbox, &cgroup);
        let bytes = serde_json::to_vec(&config).context("encoding config.json")?;
        // Its cgroup is made meanwhile.
        let cgroup_made = {
            let resources = launch::config::Resources::deserialize(&config["linux"]["resources"])
                .map_err(|e| Error::Other(format!("reading linux.resources: {e}")))?;
            let cgroup = cgroup.clone();
            self.spawn_cgroup_work(move || {
                launch::make_cgroup(&cgroup, &resources).map_err(|e| Error::Other(e.to_string()))
            })
        };
        let made = (|| {
            for sub in ["upper", "work", "bundle/rootfs"] {
                let path = dir.0.join(sub);
                std::fs::create_dir_all(&path)
                    .context(format_args!("creating {}", path.display()))?;
            }
            mount_rootfs(&dir, &spec.lower_dirs)?;
            state::write_atomic(&dir.bundle().join("config.json"), &bytes)?;
            let monitor = MonitorConfig {
                id: id.clone(),
                log_path: spec.log_path.clone(),
                tty: spec.tty,
                cgroup,
                stdin: spec.stdin,
                stdin_once: spec.stdin_once,
            };
            state::write_json(&dir.monitor_config(), &monitor)?;
            state::write_json(&dir.record(), &record)
        })();
        if let Err(e) = made.and(cgroup_made.await) {
            clear_dir(&dir);
            let _ = cgroup::remove(&record.cgroup);
            return Err(e);
        }
        Ok(id)
    }

    /// Starts a created container under a new monitor; returns once its process runs, or
    /// with `Error::CannotRun` (the container then shows as exited with code 128).
    pub async fn start_container(&self, id: &str) -> Result<()> {
        self.record(id)?;
        let dir = self.container_dir(id);
        // One start per container, even across agent restarts.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dir.start_claim())
            .map_err(|_| Error::Other(format!("container {id} was already started")))?;
        let stdout = match self.take_spare(&dir.0).await {
            Some(stdout) => stdout,
            None => self.spawn_monitor(&dir)?,
        };
        let mut stdout = tokio::io::BufReader::new(stdout);
        let mut line = String::new();
        let read = stdout.read_line(&mut line).await;
        // The next start's monitor (`spare.rs`).
        self.replenish_later(Runtime::ensure_spare);
        // The pipe ends once the exit is recorded (or the monitor is gone).
        self.watch_pipe(id, stdout);
        read.context("reading the monitor")?;
        match line
            .trim_end()
            .split_once(' ')
            .unwrap_or((line.trim_end(), ""))
        {
            ("ok", _) => Ok(()),
            ("error", message) => Err(Error::CannotRun(message.to_string())),
            _ => Err(Error::Other(format!(
                "the monitor of {id} ended without starting it: {}",
                std::fs::read_to_string(dir.0.join("monitor.log"))
                    .unwrap_or_default()
                    .trim()
            ))),
        }
    }

    /// Starts a monitor of its own for the container at `dir`; its report pipe.
    fn spawn_monitor(&self, dir: &ContainerDir) -> Result<tokio::process::ChildStdout> {
        let monitor_log =
            std::fs::File::create(dir.0.join("monitor.log")).context("monitor.log")?;
        let mut child = self
            .monitor_command()
            .arg("run")
            .arg(&dir.0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(monitor_log)
            .env("KRUST_SPAWNED_AT", unix_nanos().to_string())
            .spawn()
            .context(format_args!(
                "running the monitor {}",
                self.config().monitor[0].to_string_lossy()
            ))?;
        // The child is left to Tokio, which reaps it when it exits.
        child
            .stdout
            .take()
            .ok_or_else(|| Error::Other("no monitor pipe".into()))
    }

    /// The upper directory of a container's overlayfs root: what its processes changed, with
    /// overlayfs' whiteouts (an image build turns it into a layer). Valid until removal.
    pub fn container_upper_dir(&self, id: &str) -> Result<std::path::PathBuf> {
        self.record(id)?;
        Ok(self.container_dir(id).0.join("upper"))
    }

    /// Removes a container, killing it first if it runs: its monitor, cgroup, root
    /// filesystem mount and directory all go.
    pub async fn remove_container(&self, id: &str) -> Result<()> {
        let record = self.record(id)?;
        let dir = self.container_dir(id);
        if let ContainerState::Running { .. } = self.container_status(id).await?.state {
            self.kill(id, rustix::process::Signal::KILL).await;
        }
        // The monitor records the exit, then removes the cgroup: let it finish.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while crate::exits::monitor_alive(&dir) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        cgroup::kill_all(&record.cgroup);
        cgroup::remove(&record.cgroup)?;
        clear_dir(&dir);
        if dir.0.exists() {
            return Err(Error::Other(format!(
                "could not remove {}",
                dir.0.display()
            )));
        }
        Ok(())
    }
}

pub(crate) fn unix_nanos() -> u128 {
    let now = SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.unwrap_or_default().as_nanos()
}

/// Mounts the container's overlayfs root: the image's layers below, its own upper layer.
fn mount_rootfs(dir: &ContainerDir, lower_dirs: &[std::path::PathBuf]) -> Result<()> {
    let lower: Vec<String> = lower_dirs.iter().map(|p| escape(p)).collect();
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        escape(&dir.0.join("upper")),
        escape(&dir.0.join("work")),
    );
    let data = std::ffi::CString::new(data).context("overlay options")?;
    rustix::mount::mount(
        "overlay",
        dir.rootfs(),
        "overlay",
        rustix::mount::MountFlags::empty(),
        Some(data.as_c_str()),
    )
    .context(format_args!(
        "mounting overlay on {}",
        dir.rootfs().display()
    ))
}

/// overlayfs options separate with `,` and lower directories with `:`; both are escaped.
fn escape(path: &Path) -> String {
    let text = path.to_string_lossy();
    text.replace('\\', "\\\\")
        .replace(':', "\\:")
        .replace(',', "\\,")
}

/// Unmounts a container's root filesystem and removes its directory.
pub(crate) fn clear_dir(dir: &ContainerDir) {
    while rustix::mount::unmount(dir.rootfs(), rustix::mount::UnmountFlags::DETACH).is_ok() {}
    let _ = std::fs::remove_dir_all(&dir.0);
}
