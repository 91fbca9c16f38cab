//! A SPDY/3.1 server session over a byte stream (plain after an `Upgrade: SPDY/3.1`, or
//! carried in WebSocket messages for `SPDY/3.1+portforward.k8s.io`): streams the client
//! opens are accepted (SYN_REPLY at once, as apimachinery's spdy connection does) and handed
//! over with their headers and incoming data; pings are echoed.

use super::spdy::{self, FLAG_FIN, Frame, HeaderDecoder, HeaderEncoder, Headers, kind};
use bytes::{Bytes, BytesMut};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// The largest data frame written.
const MAX_DATA: usize = 32 << 10;

/// A stream the client opened.
pub struct Stream {
    /// Its id (odd: client-initiated).
    pub id: u32,
    /// Its SYN_STREAM headers.
    pub headers: Headers,
    /// Its data, until the client half-closes (FIN) or resets it.
    pub data: mpsc::Receiver<Bytes>,
}

/// Writes frames to the client; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    out: mpsc::Sender<Bytes>,
    encoder: Arc<Mutex<HeaderEncoder>>,
}

impl Writer {
    async fn send(&self, frame: Bytes) -> bool {
        self.out.send(frame).await.is_ok()
    }

    /// SYN_REPLY with `headers`.
    pub async fn reply(&self, stream: u32, headers: &[(&str, &str)], fin: bool) -> bool {
        let block = self.encoder.lock().expect("encoder").encode(headers);
        let mut payload = stream.to_be_bytes().to_vec();
        payload.extend_from_slice(&block);
        let flags = if fin { FLAG_FIN } else { 0 };
        self.send(spdy::control(kind::SYN_REPLY, flags, &payload))
            .await
    }

    /// Data on `stream`, in frames of at most 32 KiB.
    pub async fn data(&self, stream: u32, bytes: &[u8]) -> bool {
        for chunk in bytes.chunks(MAX_DATA) {
            if !self.send(spdy::data(stream, 0, chunk)).await {
                return false;
            }
        }
        true
    }

    /// Half-closes `stream` (an empty data frame with FIN).
    pub async fn fin(&self, stream: u32) -> bool {
        self.send(spdy::data(stream, FLAG_FIN, &[])).await
    }

    /// Resets `stream` with `status` (e.g. 5, CANCEL).
    pub async fn reset(&self, stream: u32, status: u32) -> bool {
        let mut payload = stream.to_be_bytes().to_vec();
        payload.extend_from_slice(&status.to_be_bytes());
        self.send(spdy::control(kind::RST_STREAM, 0, &payload))
            .await
    }
}

/// Starts a session reading `input` and writing to `out`; returns the writer and the streams
/// the client opens (ending when the connection does).
pub fn start(
    mut input: mpsc::Receiver<Bytes>,
    out: mpsc::Sender<Bytes>,
) -> (Writer, mpsc::Receiver<Stream>) {
    let writer = Writer {
        out,
        encoder: Arc::new(Mutex::new(HeaderEncoder::default())),
    };
    let (streams_tx, streams_rx) = mpsc::channel(16);
    let w = writer.clone();
    tokio::spawn(async move {
        let mut decoder = HeaderDecoder::default();
        let mut open: HashMap<u32, mpsc::Sender<Bytes>> = HashMap::new();
        let mut buf = BytesMut::new();
        'conn: while let Some(chunk) = input.recv().await {
            buf.extend_from_slice(&chunk);
            while let Some(frame) = spdy::parse(&mut buf) {
                match frame {
                    Frame::Data {
                        stream,
                        flags,
                        data,
                    } => {
                        if let Some(tx) = open.get(&stream)
                            && !data.is_empty()
                        {
                            let _ = tx.send(data).await;
                        }
                        if flags & FLAG_FIN != 0 {
                            open.remove(&stream);
                        }
                    }
                    Frame::Control {
                        kind: kind::SYN_STREAM,
                        flags,
                        payload,
                    } => {
                        let (Some(id), Some(block)) =
                            (spdy::stream_id(&payload), spdy::syn_stream_block(&payload))
                        else {
                            break 'conn;
                        };
                        let headers = match decoder.decode(block) {
                            Ok(h) => h,
                            Err(e) => {
                                tracing::debug!(error = %e, "SPDY header block");
                                break 'conn;
                            }
                        };
                        let (tx, rx) = mpsc::channel(64);
                        if flags & FLAG_FIN == 0 {
                            open.insert(id, tx);
                        }
                        w.reply(id, &[], false).await;
                        let stream = Stream {
                            id,
                            headers,
                            data: rx,
                        };
                        if streams_tx.send(stream).await.is_err() {
                            break 'conn;
                        }
                    }
                    Frame::Control {
                        kind: kind::RST_STREAM,
                        payload,
                        ..
                    } => {
                        if let Some(id) = spdy::stream_id(&payload) {
                            open.remove(&id);
                        }
                    }
                    Frame::Control {
                        kind: kind::PING,
                        payload,
                        ..
                    } => {
                        w.send(spdy::control(kind::PING, 0, &payload)).await;
                    }
                    Frame::Control {
                        kind: kind::GOAWAY, ..
                    } => break 'conn,
                    Frame::Control {
                        kind: kind::HEADERS,
                        payload,
                        ..
                    } => {
                        // Keep the shared zlib stream in step.
                        if let Some(block) = spdy::reply_block(&payload) {
                            let _ = decoder.decode(block);
                        }
                    }
                    Frame::Control { .. } => {} // SETTINGS, WINDOW_UPDATE, …
                }
            }
        }
    });
    (writer, streams_rx)
}

/// The byte channels of a session over a plain upgraded connection: a task reads `io` into
/// the first, another writes the second into it.
pub fn over_io<T>(io: T) -> (mpsc::Receiver<Bytes>, mpsc::Sender<Bytes>)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut r, mut w) = tokio::io::split(io);
    let (in_tx, in_rx) = mpsc::channel::<Bytes>(64);
    let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 32 << 10];
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if in_tx.send(Bytes::copy_from_slice(&buf[..n])).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    tokio::spawn(async move {
        while let Some(b) = out_rx.recv().await {
            if w.write_all(&b).await.is_err() || w.flush().await.is_err() {
                break;
            }
        }
        let _ = w.shutdown().await;
    });
    (in_rx, out_tx)
}

/// The byte channels of a session carried in WebSocket binary messages (kubectl splits
/// frames across messages arbitrarily, so the messages are one byte stream).
pub fn over_websocket<T>(io: T) -> (mpsc::Receiver<Bytes>, mpsc::Sender<Bytes>)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    use super::websocket;
    let (r, w) = tokio::io::split(io);
    let sender = websocket::writer(w);
    let mut reader = websocket::Reader::new(r, sender.clone());
    let (in_tx, in_rx) = mpsc::channel::<Bytes>(64);
    let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        while let Some(m) = reader.message().await {
            if in_tx.send(m).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        while let Some(b) = out_rx.recv().await {
            if !sender.binary(&b).await {
                return;
            }
        }
        sender.close().await;
    });
    (in_rx, out_tx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_client_stream_is_accepted_replied_and_fed() {
        let (in_tx, in_rx) = mpsc::channel(8);
        let (out_tx, mut out_rx) = mpsc::channel(8);
        let (writer, mut streams) = start(in_rx, out_tx);
        let mut enc = HeaderEncoder::default();
        let block = enc.encode(&[("streamtype", "data"), ("port", "80")]);
        let syn = spdy::control(kind::SYN_STREAM, 0, &spdy::syn_stream_payload(1, &block));
        // Split in two to show frames may straddle messages.
        in_tx.send(syn.slice(..5)).await.unwrap();
        in_tx.send(syn.slice(5..)).await.unwrap();
        in_tx.send(spdy::data(1, FLAG_FIN, b"ping")).await.unwrap();
        let mut s = streams.recv().await.unwrap();
        assert_eq!(s.id, 1);
        assert_eq!(spdy::header(&s.headers, "port"), Some("80"));
        assert_eq!(&s.data.recv().await.unwrap()[..], b"ping");
        assert!(s.data.recv().await.is_none());
        let mut buf = BytesMut::from(&out_rx.recv().await.unwrap()[..]);
        let Some(Frame::Control { kind: k, .. }) = spdy::parse(&mut buf) else {
            panic!("no reply")
        };
        assert_eq!(k, kind::SYN_REPLY);
        writer.data(1, b"pong").await;
        let mut buf = BytesMut::from(&out_rx.recv().await.unwrap()[..]);
        assert_eq!(
            spdy::parse(&mut buf),
            Some(Frame::Data {
                stream: 1,
                flags: 0,
                data: Bytes::from_static(b"pong")
            })
        );
    }
}
