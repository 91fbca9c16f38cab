//! Exit events without polling, as containerd's shim reports `TaskExit`: a monitor this
//! agent started closes its stdout pipe once the exit is recorded; one adopted after a
//! restart is watched through a pidfd (readable once it ends, right after the cgroup's removal).

use std::os::fd::OwnedFd;

use rustix::process::{Pid, PidfdFlags};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, Interest};

use crate::runtime::Runtime;
use crate::state::{self, ProcessId};

impl Runtime {
    /// Watches the monitor of every container that has not exited yet, and clears the
    /// directories of sandboxes and containers a crash left half-created.
    pub(crate) fn adopt(&self) {
        if let Ok(entries) = std::fs::read_dir(self.config().root.join("sandboxes")) {
            for entry in entries.flatten() {
                if !entry.path().join("sandbox.json").exists() {
                    crate::sandbox::release_namespaces(&entry.path());
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let Ok(entries) = std::fs::read_dir(self.config().root.join("containers")) else {
            return;
        };
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            let dir = self.container_dir(&id);
            if !dir.record().exists() {
                crate::container::clear_dir(&dir);
                continue;
            }
            if dir.exit().exists() {
                continue;
            }
            if let Some(monitor) = ProcessId::read(&dir.monitor()) {
                self.watch_monitor(&id, monitor);
            }
        }
    }

    /// Sends `id` on the exits channel when the monitor this agent started closes its
    /// pipe, which it does as soon as the exit is recorded.
    pub(crate) fn watch_pipe(&self, id: &str, mut pipe: impl AsyncRead + Unpin + Send + 'static) {
        if !self.watch(id) {
            return;
        }
        let runtime = self.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut pipe, &mut tokio::io::sink()).await;
            runtime.exited(id);
        });
    }

    /// Marks a container watched; false if it already was.
    fn watch(&self, id: &str) -> bool {
        self.inner
            .watched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string())
    }

    fn exited(&self, id: String) {
        self.inner
            .watched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        let _ = self.inner.exits.send(id);
    }

    /// Sends `id` on the exits channel when the monitor (started by an earlier agent)
    /// ends, at once if it is gone.
    pub(crate) fn watch_monitor(&self, id: &str, monitor: ProcessId) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if !self.watch(id) {
            return;
        }
        let fd = Pid::from_raw(monitor.pid as i32)
            .and_then(|pid| rustix::process::pidfd_open(pid, PidfdFlags::NONBLOCK).ok());
        // The pidfd names the process at the time it was opened: if that is still the
        // monitor, it names the monitor.
        let fd = fd.filter(|_| ProcessId::of(monitor.pid) == Some(monitor));
        let runtime = self.clone();
        let id = id.to_string();
        handle.spawn(async move {
            if let Some(fd) = fd {
                wait_readable(fd).await;
            }
            runtime.exited(id);
        });
    }
}

async fn wait_readable(fd: OwnedFd) {
    // Deprecated for descriptors that may be closed while registered; this one is owned
    // by the AsyncFd, which is the safe case (`register` became `unsafe` for all cases).
    #[allow(deprecated)]
    if let Ok(fd) = AsyncFd::with_interest(fd, Interest::READABLE) {
        let _ = fd.readable().await;
    }
}

/// Whether a container's monitor is alive.
pub(crate) fn monitor_alive(dir: &state::ContainerDir) -> bool {
    ProcessId::read(&dir.monitor()).is_some_and(|m| m.alive())
}
