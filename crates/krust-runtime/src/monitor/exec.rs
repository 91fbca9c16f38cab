//! `krust monitor exec <container dir> <process.json> [<console socket>]`: a process
//! started in a running container (`launch::exec`, what `runc exec` is to containerd's
//! shim), waited for; this process exits with its code (`128 + n` when signal n killed
//! it). With a terminal, the process sends its master to the agent on the console socket.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Stdio;

use crate::launch::{self, Stdio3};
use crate::state::{self, ContainerDir, Started};

/// Runs the exec; the exit code.
pub fn exec(dir: &Path, process: &Path, console: Option<&Path>) -> i32 {
    match start(&ContainerDir(dir.to_path_buf()), process, console) {
        Ok(pid) => wait(pid),
        Err(message) => {
            eprintln!("{message}");
            126
        }
    }
}

fn start(dir: &ContainerDir, process: &Path, console: Option<&Path>) -> Result<u32, String> {
    let started: Started = state::read_json(&dir.started())
        .map_err(|e| e.to_string())?
        .ok_or("the container has not started")?;
    let config = launch::read_config(&dir.bundle()).map_err(|e| e.to_string())?;
    let bytes =
        std::fs::read(process).map_err(|e| format!("reading {}: {e}", process.display()))?;
    let process: launch::Process = serde_json::from_slice(&bytes)
        .map_err(|e| format!("reading {}: {e}", process.display()))?;
    let console = match console {
        Some(path) => Some(OwnedFd::from(
            UnixStream::connect(path).map_err(|e| format!("console socket: {e}"))?,
        )),
        None => None,
    };
    let stdio = Stdio3 {
        stdin: Stdio::inherit(),
        stdout: Stdio::inherit(),
        stderr: Stdio::inherit(),
    };
    launch::exec(started.pid, config, process, stdio, console).map_err(|e| e.to_string())
}

/// Waits for the exec's process.
fn wait(pid: u32) -> i32 {
    let Some(pid) = rustix::process::Pid::from_raw(pid as i32) else {
        return 255;
    };
    loop {
        match rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty()) {
            Ok(Some((_, status))) => return super::pump::exit_code(status),
            Err(rustix::io::Errno::INTR) => continue,
            _ => return 255,
        }
    }
}
