//! The channel protocols over WebSocket (apimachinery's `wsstream`, `v4.channel.k8s.io` and
//! `v5.channel.k8s.io`): every binary message starts with its channel number. For exec and
//! attach: 0 stdin, 1 stdout, 2 stderr, 3 the ending `Status` (JSON), 4 terminal resizes
//! (JSON `{"Width":…,"Height":…}`), and in v5 255 to close a channel (`[255, 0]`: stdin is
//! done). For port-forward: per port two channels, data then error, each first sending the
//! port as two little-endian bytes.

use super::streams::{Session, exit_status};
use super::websocket::{self, Sender};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The channels of exec and attach.
pub mod channel {
    pub const STDIN: u8 = 0;
    pub const STDOUT: u8 = 1;
    pub const STDERR: u8 = 2;
    pub const ERROR: u8 = 3;
    pub const RESIZE: u8 = 4;
    pub const CLOSE: u8 = 255;
}

/// A message on `channel`.
pub fn message(channel: u8, data: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(data.len() + 1);
    m.push(channel);
    m.extend_from_slice(data);
    m
}

/// A terminal size message: `{"Width":80,"Height":24}`.
pub fn parse_resize(data: &[u8]) -> Option<(u16, u16)> {
    let v: serde_json::Value = serde_json::from_slice(data).ok()?;
    Some((
        v.get("Width")?.as_u64()? as u16,
        v.get("Height")?.as_u64()? as u16,
    ))
}

/// Copies `r` to the client on `channel` until it ends.
pub async fn pump<R: AsyncRead + Unpin>(mut r: R, channel: u8, out: Sender) {
    let mut buf = vec![0u8; 32 << 10];
    buf[0] = channel;
    loop {
        match r.read(&mut buf[1..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if !out.binary(&buf[..=n]).await {
                    return;
                }
            }
        }
    }
}

/// Runs an exec or attach session over an upgraded WebSocket connection: output pumped out,
/// input and resizes fed in, and once the process ended and its output drained, the exit
/// `Status` on channel 3, then a close.
pub async fn run_exec<T>(io: T, session: Session, v5: bool)
where
    T: AsyncRead + AsyncWrite + Send + 'static,
{
    let (r, w) = tokio::io::split(io);
    let out = websocket::writer(w);
    let mut reader = websocket::Reader::new(r, out.clone());
    let Session {
        stdin,
        stdout,
        stderr,
        resize,
        exit,
    } = session;
    let mut pumps = Vec::new();
    if let Some(s) = stdout {
        pumps.push(tokio::spawn(pump(s, channel::STDOUT, out.clone())));
    }
    if let Some(s) = stderr {
        pumps.push(tokio::spawn(pump(s, channel::STDERR, out.clone())));
    }
    let input = tokio::spawn(async move {
        let mut stdin = stdin;
        while let Some(m) = reader.message().await {
            let Some((&ch, data)) = m.split_first() else {
                continue;
            };
            match ch {
                channel::STDIN => {
                    if let Some(w) = stdin.as_mut()
                        && (w.write_all(data).await.is_err() || w.flush().await.is_err())
                    {
                        stdin = None;
                    }
                }
                channel::RESIZE => {
                    if let (Some(tx), Some(size)) = (resize.as_ref(), parse_resize(data)) {
                        let _ = tx.send(size).await;
                    }
                }
                channel::CLOSE if v5 && data.first() == Some(&channel::STDIN) => {
                    if let Some(mut w) = stdin.take() {
                        let _ = w.shutdown().await;
                    }
                }
                _ => {}
            }
        }
    });
    let code = exit.await;
    for p in pumps {
        let _ = p.await;
    }
    let status = exit_status(code).to_string();
    out.binary(&message(channel::ERROR, status.as_bytes()))
        .await;
    out.close().await;
    input.abort();
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;
    use websocket::{encode_with_mask, op, read_frame};

    #[test]
    fn resize_messages_are_read() {
        assert_eq!(
            parse_resize(br#"{"Width":120,"Height":40}"#),
            Some((120, 40))
        );
        assert_eq!(parse_resize(b"nope"), None);
    }

    #[tokio::test]
    async fn an_exec_session_echoes_stdin_and_ends_with_its_status() {
        let (client, server) = tokio::io::duplex(1 << 16);
        let (stdin_w, stdout_r) = tokio::io::duplex(1024);
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let session = Session {
            stdin: Some(Box::new(stdin_w)),
            stdout: Some(Box::new(stdout_r)),
            stderr: None,
            resize: None,
            exit: async move {
                let _ = done_rx.await;
                3
            }
            .boxed(),
        };
        tokio::spawn(run_exec(server, session, true));
        let (mut cr, mut cw) = tokio::io::split(client);
        let m =
            |ch: u8, d: &[u8]| encode_with_mask(op::BINARY, &message(ch, d), Some([5, 6, 7, 8]));
        cw.write_all(&m(channel::STDIN, b"hi")).await.unwrap();
        let f = read_frame(&mut cr).await.unwrap().unwrap();
        assert_eq!(&f.payload[..], b"\x01hi");
        cw.write_all(&m(channel::CLOSE, &[channel::STDIN]))
            .await
            .unwrap();
        done_tx.send(()).unwrap();
        let f = read_frame(&mut cr).await.unwrap().unwrap();
        assert_eq!(f.payload[0], channel::ERROR);
        let status: serde_json::Value = serde_json::from_slice(&f.payload[1..]).unwrap();
        assert_eq!(status["reason"], "NonZeroExitCode");
        assert_eq!(status["details"]["causes"][0]["message"], "3");
        let f = read_frame(&mut cr).await.unwrap().unwrap();
        assert_eq!(f.opcode, op::CLOSE);
    }
}
