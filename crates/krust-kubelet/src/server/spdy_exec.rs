//! exec and attach over SPDY/3.1 (apimachinery's `remotecommand` server, protocol
//! `v4.channel.k8s.io`): the client opens one stream per standard stream, named by its
//! `streamType` header (`error`, `stdin`, `stdout`, `stderr`, `resize`); the server writes
//! output on the client's streams, a failure `Status` (JSON) on `error`, and closes them.

use super::exec::Options;
use super::spdy;
use super::spdy_session::{self, Stream, Writer};
use super::streams::{Session, exit_status};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The one SPDY remotecommand protocol served.
pub const PROTOCOL: &str = "v4.channel.k8s.io";

/// How long the client has to open its streams (the kubelet's stream creation timeout).
const STREAMS_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs a session over an upgraded SPDY connection.
pub async fn run<T>(io: T, session: Session, opts: Options)
where
    T: AsyncRead + AsyncWrite + Send + 'static,
{
    let (input, output) = spdy_session::over_io(io);
    let (writer, mut incoming) = spdy_session::start(input, output);
    let expected =
        1 + opts.stdin as usize + opts.stdout as usize + opts.stderr as usize + opts.tty as usize;
    let mut streams: Vec<Stream> = Vec::new();
    let deadline = tokio::time::sleep(STREAMS_TIMEOUT);
    tokio::pin!(deadline);
    while streams.len() < expected {
        tokio::select! {
            s = incoming.recv() => match s {
                Some(s) => streams.push(s),
                None => return,
            },
            _ = &mut deadline => {
                tracing::debug!("exec: the client did not open its streams in time");
                return;
            }
        }
    }
    let id_of = |t: &str| {
        streams
            .iter()
            .find(|s| spdy::header(&s.headers, "streamtype") == Some(t))
            .map(|s| s.id)
    };
    let (error_id, stdout_id, stderr_id) = (id_of("error"), id_of("stdout"), id_of("stderr"));
    let Session {
        stdin,
        stdout,
        stderr,
        resize,
        exit,
    } = session;
    let mut pumps = Vec::new();
    if let (Some(r), Some(id)) = (stdout, stdout_id) {
        pumps.push(tokio::spawn(pump(r, id, writer.clone())));
    }
    if let (Some(r), Some(id)) = (stderr, stderr_id) {
        pumps.push(tokio::spawn(pump(r, id, writer.clone())));
    }
    let mut stdin = stdin;
    let mut feeders = Vec::new();
    for mut s in streams {
        match spdy::header(&s.headers, "streamtype") {
            Some("stdin") => {
                let mut w = stdin.take();
                feeders.push(tokio::spawn(async move {
                    while let Some(b) = s.data.recv().await {
                        if let Some(x) = w.as_mut()
                            && (x.write_all(&b).await.is_err() || x.flush().await.is_err())
                        {
                            w = None;
                        }
                    }
                    if let Some(mut x) = w {
                        let _ = x.shutdown().await;
                    }
                }));
            }
            Some("resize") => {
                let tx = resize.clone();
                feeders.push(tokio::spawn(async move {
                    let mut buf = Vec::new();
                    while let Some(b) = s.data.recv().await {
                        buf.extend_from_slice(&b);
                        // Sizes arrive as concatenated JSON objects.
                        let mut de = serde_json::Deserializer::from_slice(&buf)
                            .into_iter::<serde_json::Value>();
                        let mut used = 0;
                        while let Some(Ok(v)) = de.next() {
                            used = de.byte_offset();
                            if let (Some(tx), Some(w), Some(h)) = (
                                tx.as_ref(),
                                v.get("Width").and_then(|v| v.as_u64()),
                                v.get("Height").and_then(|v| v.as_u64()),
                            ) {
                                let _ = tx.send((w as u16, h as u16)).await;
                            }
                        }
                        buf.drain(..used);
                    }
                }));
            }
            _ => {}
        }
    }
    let code = exit.await;
    for p in pumps {
        let _ = p.await;
    }
    if let Some(id) = error_id {
        if code != 0 {
            writer
                .data(id, exit_status(code).to_string().as_bytes())
                .await;
        }
        writer.fin(id).await;
    }
    for id in [stdout_id, stderr_id].into_iter().flatten() {
        writer.fin(id).await;
    }
    for f in feeders {
        f.abort();
    }
}

async fn pump<R: AsyncRead + Unpin>(mut r: R, id: u32, w: Writer) {
    let mut buf = vec![0u8; 32 << 10];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if !w.data(id, &buf[..n]).await {
                    return;
                }
            }
        }
    }
}
