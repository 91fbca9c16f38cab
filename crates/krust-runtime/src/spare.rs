//! The spare monitor: one monitor process started before any container needs it, so that a
//! start does not wait for the exec of a monitor (1.4–2 ms of a pod's start in the server
//! here, the kernel's exec and the loader, beside the container's own launch, 3–4 ms). It
//! is `<monitor> spare <root>`: it waits on its stdin for the directory of the container it
//! is to run (`monitor/run.rs`, `spare`). The runtime starts one when a sandbox
//! is made (none on a node that never ran a pod: a spawn's code costs an idle agent ~0.7 MiB
//! of resident text) and the next as soon as one is taken; closing its stdin (the runtime
//! dropped, the agent gone) ends it. A container whose start finds none (several at once)
//! gets a monitor of its own.

use std::path::Path;
use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::{ChildStdin, ChildStdout, Command};

use crate::container::unix_nanos;
use crate::runtime::Runtime;

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

    /// Starts a spare monitor unless one waits. A failure only means the next start
    /// starts its own monitor.
    pub(crate) fn ensure_spare(&self) {
        let mut spare = self.inner.spare.lock().unwrap_or_else(|e| e.into_inner());
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
}
