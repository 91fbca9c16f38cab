//! Spares: what a start would otherwise wait for, made before a pod needs it.
//!
//! - A spare monitor: one monitor process started ahead, so that a start does not wait for
//!   the exec of a monitor (1.4–2 ms of a pod's start in the server here, the kernel's exec
//!   and the loader, beside the container's own launch, 3–4 ms). It is `<monitor> spare
//!   <root>`: it waits on its stdin for the directory of the container it is to run
//!   (`monitor/run.rs`, `spare`). Closing its stdin (the runtime dropped, the agent gone)
//!   ends it. A container whose start finds none (several at once) gets a monitor of its
//!   own.
//! - A spare network namespace, `lo` up, held at `sandboxes/spare/net`: a new sandbox takes
//!   it (bound where the pod's is held, the spare's mount then detached) rather than
//!   unsharing one, which took 0.5–2.5 ms here, holding the kernel's rtnl lock, which the
//!   pod cgroup's `net_prio` waits for. A sandbox that finds none makes its own. Having no
//!   `sandbox.json`, it is no pod's; the runtime releases it when it goes (the last clone
//!   dropped), and the next runtime's start (`exits.rs`, `adopt`) one a crash left.
//!
//! Each is made [`REPLENISH_AFTER`] the one before was taken: the monitor when a container
//! starts, the network namespace when a pod's sandbox is made with one (so a node that
//! never ran a pod has neither, and image builds, on the host's network, no namespace).
//! Made during the launch, they slowed it by 2–3 ms on two cores, and right after it the
//! pod's status write by 1–2 ms. The first sandbox also starts a monitor at once, beside
//! itself.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Mutex, MutexGuard, TryLockError};

use tokio::io::AsyncWriteExt;
use tokio::process::{ChildStdin, ChildStdout, Command};

use crate::container::unix_nanos;
use crate::runtime::Runtime;
use crate::sandbox::{Held, make_namespaces, release};

/// How long after one is taken a spare is made again: once the pod's start and its status
/// write (10–20 ms here) are likely done.
const REPLENISH_AFTER: std::time::Duration = std::time::Duration::from_millis(50);

/// A spare monitor's pipes: its instructions and its report.
pub(crate) struct Spare {
    pid: Option<u32>,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

impl Runtime {
    /// The command that starts a monitor, with the environment every monitor gets.
    pub(crate) fn monitor_command(&self) -> Command {
        let config = self.config();
        let mut command = Command::new(&config.monitor[0]);
        command
            .args(&config.monitor[1..])
            // The krust binary allocates with mimalloc, whose first arena (1 GiB by
            // default) keeps ~180 KiB of bitmaps resident: most of a monitor's heap, which
            // needs a few KiB; and what the monitor frees once its container runs goes back
            // to the kernel at once rather than after a second (40 KiB less resident per
            // monitor). Other monitor programs ignore the variables.
            .env("MIMALLOC_ARENA_RESERVE", "4MiB")
            .env("MIMALLOC_PURGE_DELAY", "0");
        command
    }

    /// Starts a spare monitor unless one waits or is being started (or taken). A failure
    /// only means the next start starts its own monitor.
    pub(crate) fn ensure_spare(&self) {
        // Not waiting for the lock: a burst of pods calls this once per pod and per start,
        // each on a blocking thread, and each call waiting would hold a thread of its own.
        let Some(mut spare) = unless_busy(&self.inner.spare) else {
            return;
        };
        if spare.is_some() {
            return;
        }
        let config = self.config();
        let child = self
            .monitor_command()
            .arg("spare")
            .arg(&config.root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let Ok(mut child) = child else {
            return;
        };
        if let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) {
            let pid = child.id();
            *spare = Some(Spare { pid, stdin, stdout });
        }
        // The child is left to Tokio, which reaps it when it exits.
    }

    /// The process id of the monitor waiting for the next container, if one waits (it is no
    /// container's: what a removal leaves is the rest).
    pub fn spare_monitor(&self) -> Option<u32> {
        let spare = self.inner.spare.lock().unwrap_or_else(|e| e.into_inner());
        spare.as_ref().and_then(|s| s.pid)
    }

    /// Hands the container at `dir` to the spare monitor, if one waits; its report pipe.
    pub(crate) async fn take_spare(&self, dir: &Path) -> Option<ChildStdout> {
        let Spare {
            mut stdin, stdout, ..
        } = self
            .inner
            .spare
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()?;
        let line = format!("{} {}\n", unix_nanos(), dir.display());
        // A spare that is gone (killed) takes nothing: the start runs a monitor of its own.
        stdin.write_all(line.as_bytes()).await.ok()?;
        Some(stdout)
    }

    /// Runs `make` (a spare's) on a blocking thread [`REPLENISH_AFTER`] from now.
    pub(crate) fn replenish_later(&self, make: fn(&Runtime)) {
        let runtime = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(REPLENISH_AFTER).await;
            let _ = tokio::task::spawn_blocking(move || make(&runtime)).await;
        });
    }

    /// Makes the spare network namespace unless one is held or being made (or taken), not
    /// waiting for the lock, as `ensure_spare`. A failure only means the next sandbox makes
    /// its own.
    pub(crate) fn ensure_spare_netns(&self) {
        let Some(mut spare) = unless_busy(&self.inner.spare_netns) else {
            return;
        };
        if spare.is_some() {
            return;
        }
        let dir = self.sandbox_dir("spare");
        let net = dir.join("net");
        let held = Held {
            net: Some(net.clone()),
            ipc: None,
            uts: None,
            hostname: None,
        };
        let made = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::File::create(&net))
            .is_ok()
            && std::thread::Builder::new()
                .name("krust-spare-netns".to_string())
                .spawn(move || make_namespaces(&held))
                .is_ok_and(|thread| thread.join().is_ok_and(|r| r.is_ok()));
        if made {
            *spare = Some(net);
        } else {
            release(&net);
        }
    }

    /// Holds the spare network namespace at `file` (an empty file) in its place; whether
    /// there was one to take. One being made is not waited for.
    pub(crate) fn take_spare_netns(&self, file: &Path) -> bool {
        let Ok(mut spare) = self.inner.spare_netns.try_lock() else {
            return false;
        };
        let Some(net) = spare.take() else {
            return false;
        };
        let taken = rustix::mount::mount_bind(&net, file).is_ok();
        release(&net);
        taken
    }

    /// Where the spare network namespace is held, if one is (no pod's: tests count what a
    /// pod leaves without it).
    pub fn spare_network_namespace(&self) -> Option<PathBuf> {
        let spare = self
            .inner
            .spare_netns
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        spare.clone()
    }
}

/// The lock of a spare, unless someone holds it (making or taking the spare).
fn unless_busy<T>(lock: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match lock.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

impl Drop for crate::runtime::Inner {
    /// The spare network namespace goes with the runtime (the spare monitor ends as its
    /// stdin closes).
    fn drop(&mut self) {
        let spare = self
            .spare_netns
            .get_mut()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(net) = spare.take() {
            release(&net);
        }
    }
}
