//! Host processes and files standing in for containers.

use async_trait::async_trait;
use futures::FutureExt;
use krust_kubelet::server::{Session, StreamError, Streams};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use tokio::net::TcpStream;

/// Host processes and files standing in for containers.
pub struct Fake {
    pub logs: PathBuf,
    /// Terminal sizes received for exec sessions with a tty.
    pub resizes: Arc<std::sync::Mutex<Vec<(u16, u16)>>>,
}

pub fn spawn_session(
    mut cmd: tokio::process::Command,
    stdin: bool,
) -> Result<Session, StreamError> {
    cmd.stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| StreamError::internal(e.to_string()))?;
    let stdin = child
        .stdin
        .take()
        .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncWrite + Send + Unpin>);
    let stdout = child
        .stdout
        .take()
        .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>);
    let stderr = child
        .stderr
        .take()
        .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>);
    Ok(Session {
        stdin,
        stdout,
        stderr,
        resize: None,
        exit: async move { child.wait().await.ok().and_then(|s| s.code()).unwrap_or(-1) }.boxed(),
    })
}

#[async_trait]
impl Streams for Fake {
    async fn log_path(
        &self,
        _ns: &str,
        _pod: &str,
        container: &str,
        previous: bool,
    ) -> Result<PathBuf, StreamError> {
        if container != "main" {
            return Err(StreamError::not_found(format!(
                "container {container:?} not found"
            )));
        }
        Ok(self.logs.join(if previous { "0.log" } else { "1.log" }))
    }

    async fn exec(
        &self,
        _ns: &str,
        _pod: &str,
        _container: &str,
        command: Vec<String>,
        tty: bool,
        stdin: bool,
    ) -> Result<Session, StreamError> {
        let mut cmd = tokio::process::Command::new(&command[0]);
        cmd.args(&command[1..]);
        let mut session = spawn_session(cmd, stdin)?;
        if tty {
            let (tx, mut rx) = tokio::sync::mpsc::channel(8);
            let resizes = self.resizes.clone();
            tokio::spawn(async move {
                while let Some(size) = rx.recv().await {
                    resizes.lock().unwrap().push(size);
                }
            });
            session.resize = Some(tx);
            session.stderr = None;
        }
        Ok(session)
    }

    async fn attach(
        &self,
        _ns: &str,
        _pod: &str,
        _container: &str,
        _tty: bool,
        stdin: bool,
    ) -> Result<Session, StreamError> {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.args(["-c", "echo attached; cat"]);
        spawn_session(cmd, stdin)
    }

    async fn port_forward(
        &self,
        _ns: &str,
        _pod: &str,
        port: u16,
    ) -> Result<TcpStream, StreamError> {
        TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| StreamError::internal(e.to_string()))
    }
}
