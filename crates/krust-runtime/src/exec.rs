//! `kubectl exec`: a process started in a running container by `krust monitor exec` (as
//! CRI's ExecSync/Exec reach `runc exec` through containerd's shim), with pipes for its
//! stdio or a terminal received on a console socket, and its exit code. The process is the
//! container's own (user, env, cwd, capabilities, no_new_privs) with the exec's args, as
//! containerd's CRI plugin builds an exec's process from the container's spec.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use crate::Error;
use crate::console::ConsoleSocket;
use crate::error::{Context, Result};
use crate::runtime::Runtime;
use crate::spec::ContainerState;
use crate::state;

/// A process running inside a container.
pub struct Exec {
    /// Its standard input, when asked for (closing it sends EOF; with a terminal, the
    /// terminal's input).
    pub stdin: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    /// Its standard output (with a terminal, everything it shows).
    pub stdout: Option<Box<dyn AsyncRead + Send + Unpin>>,
    /// Its standard error; `None` with a terminal.
    pub stderr: Option<Box<dyn AsyncRead + Send + Unpin>>,
    /// Terminal size changes, `(width, height)`; with a terminal only.
    pub resize: Option<mpsc::Sender<(u16, u16)>>,
    /// Its exit code (`128 + n` when signal n killed it).
    pub exit: BoxFuture<'static, i32>,
}

impl Runtime {
    /// Runs `args` in the running container `id`.
    pub async fn exec(&self, id: &str, args: Vec<String>, tty: bool, stdin: bool) -> Result<Exec> {
        if !matches!(
            self.container_status(id).await?.state,
            ContainerState::Running { .. }
        ) {
            return Err(Error::Other(format!("container {id} is not running")));
        }
        if args.is_empty() {
            return Err(Error::Other("exec: no command".into()));
        }
        let process = self.exec_process(id, &args, tty)?;
        let mut command = self.monitor_command();
        command
            .arg("exec")
            .arg(&self.container_dir(id).0)
            .arg(&process.0);
        if tty {
            let console = ConsoleSocket::new().context("console socket")?;
            command.arg(&console.path);
            let mut child = command
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("running the exec's monitor")?;
            let path = console.path.clone();
            let receive = tokio::task::spawn_blocking(move || console.receive());
            let master = tokio::select! {
                received = receive => received.context("console")?.context("receiving the terminal")?,
                status = child.wait() => {
                    // Wake the waiting accept, so the socket is closed and removed.
                    let _ = std::os::unix::net::UnixStream::connect(&path);
                    return Err(Error::Other(format!("the exec ended before its terminal came: {status:?}")));
                }
            };
            let (reader, writer) = crate::pty::split(master).context("terminal")?;
            let (resize, mut sizes) = mpsc::channel::<(u16, u16)>(8);
            let resizer = writer.clone();
            tokio::spawn(async move {
                while let Some((width, height)) = sizes.recv().await {
                    let _ = resizer.resize(width, height);
                }
            });
            return Ok(Exec {
                stdin: stdin.then(|| Box::new(writer) as Box<dyn AsyncWrite + Send + Unpin>),
                stdout: Some(Box::new(reader)),
                stderr: None,
                resize: Some(resize),
                exit: Box::pin(async move {
                    let exit = code(child.wait().await);
                    drop(process);
                    exit
                }),
            });
        }
        let mut child = command
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("running the exec's monitor")?;
        Ok(Exec {
            stdin: child
                .stdin
                .take()
                .map(|s| Box::new(s) as Box<dyn AsyncWrite + Send + Unpin>),
            stdout: child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn AsyncRead + Send + Unpin>),
            stderr: child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn AsyncRead + Send + Unpin>),
            resize: None,
            exit: Box::pin(async move {
                let exit = code(child.wait().await);
                drop(process);
                exit
            }),
        })
    }

    /// Writes the exec's `process.json` beside the container's bundle: the container's
    /// process with `args` and `terminal` replaced; removed when dropped.
    fn exec_process(&self, id: &str, args: &[String], tty: bool) -> Result<ProcessFile> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = self.container_dir(id);
        let bytes = std::fs::read(dir.bundle().join("config.json")).context("config.json")?;
        let config: serde_json::Value = serde_json::from_slice(&bytes).context("config.json")?;
        let mut process = config["process"].clone();
        let Some(fields) = process.as_object_mut() else {
            return Err(Error::Other(format!("container {id} has no process")));
        };
        fields.insert("args".into(), serde_json::json!(args));
        fields.insert("terminal".into(), serde_json::json!(tty));
        fields.remove("consoleSize");
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = dir.0.join(format!("exec-{}-{n}.json", std::process::id()));
        state::write_atomic(
            &path,
            &serde_json::to_vec(&process).context("process.json")?,
        )?;
        Ok(ProcessFile(path))
    }
}

/// An exec's `process.json`, removed when dropped.
struct ProcessFile(PathBuf);

impl Drop for ProcessFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn code(status: std::io::Result<std::process::ExitStatus>) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => s
            .code()
            .or_else(|| s.signal().map(|n| 128 + n))
            .unwrap_or(255),
        Err(_) => 255,
    }
}
