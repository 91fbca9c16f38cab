//! `kubectl attach` and `kubectl run -i`: a client of a running container's attach socket
//! (served by its monitor), shaped like an `Exec`: the container's output, its stdin when
//! the container has one, terminal resizes, and its exit code once it ends. And CRI's
//! `ReopenContainerLog`, asked over the same socket.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::Error;
use crate::attach::{self, CLOSE_STDIN, LOG_REOPENED, REOPEN_LOG, RESIZE, STDERR, STDIN, STDOUT};
use crate::error::Result;
use crate::exec::Exec;
use crate::runtime::Runtime;
use crate::spec::ContainerState;

impl Runtime {
    /// Attaches to a running container's stdio; `stdin` only if its spec has `stdin`.
    pub async fn attach(&self, id: &str, stdin: bool) -> Result<Exec> {
        let record = self.record(id)?;
        if !matches!(
            self.container_status(id).await?.state,
            ContainerState::Running { .. }
        ) {
            return Err(Error::Other(format!("container {id} is not running")));
        }
        let (tty, stdin) = (record.spec.tty, stdin && record.spec.stdin);
        let stream = connect(id).await?;
        let (mut from_monitor, mut to_monitor) = stream.into_split();

        let (mut stdout_in, stdout_out) = tokio::io::duplex(64 * 1024);
        let (mut stderr_in, stderr_out) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move {
            while let Some((kind, data)) = attach::read_frame_async(&mut from_monitor).await {
                let sink = match kind {
                    STDOUT => &mut stdout_in,
                    STDERR => &mut stderr_in,
                    _ => continue,
                };
                let _ = sink.write_all(&data).await;
            }
        });

        // One writer of frames to the monitor; it ends when input and resizes both have.
        let (frames, mut to_send) = mpsc::channel::<Vec<u8>>(16);
        tokio::spawn(async move {
            while let Some(frame) = to_send.recv().await {
                if to_monitor.write_all(&frame).await.is_err() {
                    break;
                }
            }
            // Keep the connection for output: only the writing half was ours to end.
            let _ = to_monitor.shutdown().await;
        });
        let stdin_writer = if stdin {
            let (writer, mut input) = tokio::io::duplex(64 * 1024);
            let frames = frames.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 32 * 1024];
                while let Ok(n) = input.read(&mut buf).await {
                    if n == 0 || frames.send(attach::frame(STDIN, &buf[..n])).await.is_err() {
                        break;
                    }
                }
                let _ = frames.send(attach::frame(CLOSE_STDIN, &[])).await;
            });
            Some(Box::new(writer) as Box<dyn tokio::io::AsyncWrite + Send + Unpin>)
        } else {
            None
        };
        let resize = tty.then(|| {
            let (sizes, mut wanted) = mpsc::channel::<(u16, u16)>(8);
            let frames = frames.clone();
            tokio::spawn(async move {
                while let Some((width, height)) = wanted.recv().await {
                    let mut data = width.to_be_bytes().to_vec();
                    data.extend_from_slice(&height.to_be_bytes());
                    if frames.send(attach::frame(RESIZE, &data)).await.is_err() {
                        break;
                    }
                }
            });
            sizes
        });
        drop(frames);

        let runtime = self.clone();
        let id = id.to_string();
        Ok(Exec {
            stdin: stdin_writer,
            stdout: Some(Box::new(stdout_out)),
            stderr: (!tty)
                .then(|| Box::new(stderr_out) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            resize,
            exit: Box::pin(async move { runtime.exit_code(&id).await }),
        })
    }

    /// Makes the monitor of a running container reopen its log file, as the kubelet asks
    /// after renaming it for rotation (CRI's `ReopenContainerLog`); returns once the
    /// monitor writes to the new file.
    pub async fn reopen_container_log(&self, id: &str) -> Result<()> {
        self.record(id)?;
        if !matches!(
            self.container_status(id).await?.state,
            ContainerState::Running { .. }
        ) {
            return Err(Error::Other(format!("container {id} is not running")));
        }
        let stream = connect(id).await?;
        let (mut from_monitor, mut to_monitor) = stream.into_split();
        let ask = attach::frame(REOPEN_LOG, &[]);
        to_monitor
            .write_all(&ask)
            .await
            .map_err(|e| Error::io("asking the monitor", e))?;
        let answer = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            loop {
                match attach::read_frame_async(&mut from_monitor).await {
                    Some((LOG_REOPENED, error)) => return Some(error),
                    Some(_) => continue, // output meanwhile
                    None => return None,
                }
            }
        });
        match answer.await {
            Ok(Some(error)) if error.is_empty() => Ok(()),
            Ok(Some(error)) => Err(Error::Other(String::from_utf8_lossy(&error).into_owned())),
            _ => Err(Error::Other(format!(
                "the monitor of {id} did not reopen its log"
            ))),
        }
    }

    /// Waits for the container to end; its exit code (255 if it is gone).
    pub(crate) async fn exit_code(&self, id: &str) -> i32 {
        loop {
            if self
                .wait_exit(id, std::time::Duration::from_secs(3600))
                .await
            {
                return match self.container_status(id).await.map(|s| s.state) {
                    Ok(ContainerState::Exited { exit_code, .. }) => exit_code,
                    _ => 255,
                };
            }
        }
    }
}

/// Connects to the attach socket, which the monitor binds just after the start: a client
/// coming at once may try a few times.
async fn connect(id: &str) -> Result<tokio::net::UnixStream> {
    let path = attach::socket_path(id);
    let mut tries = 0;
    loop {
        match tokio::net::UnixStream::connect(&path).await {
            Ok(stream) => return Ok(stream),
            Err(e) if tries >= 100 => {
                return Err(Error::io("connecting to the attach socket", e));
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
        tries += 1;
    }
}
