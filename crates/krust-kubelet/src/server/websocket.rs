//! WebSocket (RFC 6455) as the kubelet's streaming server speaks it (apimachinery's
//! `wsstream`): the handshake answer, and binary messages over an upgraded connection.
//!
//! Only what a server needs: client frames are masked, server frames are not; fragments are
//! joined; pings are answered with pongs; a close frame ends the read side. Text frames are
//! treated as binary (the channel protocols use binary; a text frame would carry base64 in
//! the legacy `base64.channel.k8s.io`, which is not offered).

use base64::Engine;
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// The GUID RFC 6455 appends to the client's key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The largest message accepted from a client (kubectl sends at most 32 KiB of stdin).
const MAX_MESSAGE: usize = 16 << 20;

/// `Sec-WebSocket-Accept` for the client's `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    let mut input = key.trim().as_bytes().to_vec();
    input.extend_from_slice(GUID.as_bytes());
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &input);
    base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
}

/// Frame opcodes.
pub mod op {
    pub const CONTINUATION: u8 = 0x0;
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xA;
}

/// One frame as read from the wire (payload unmasked).
#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Bytes,
}

/// Encodes a server frame (final, unmasked).
pub fn encode(opcode: u8, payload: &[u8]) -> Bytes {
    encode_with_mask(opcode, payload, None)
}

/// Encodes a final frame, masked when `mask` is given (as clients send them; for tests).
pub fn encode_with_mask(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Bytes {
    let mut out = BytesMut::with_capacity(payload.len() + 14);
    out.extend_from_slice(&[0x80 | opcode]);
    let m = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.extend_from_slice(&[m | n as u8]),
        n if n <= 0xffff => {
            out.extend_from_slice(&[m | 126]);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.extend_from_slice(&[m | 127]);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(k) => {
            out.extend_from_slice(&k);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out.freeze()
}

/// Reads one frame; `None` at a clean end of stream.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<Frame>> {
    let mut head = [0u8; 2];
    match r.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let fin = head[0] & 0x80 != 0;
    let opcode = head[0] & 0x0f;
    let masked = head[1] & 0x80 != 0;
    let len = match head[1] & 0x7f {
        126 => r.read_u16().await? as u64,
        127 => r.read_u64().await?,
        n => n as u64,
    };
    if len > MAX_MESSAGE as u64 {
        return Err(std::io::Error::other("WebSocket frame too large"));
    }
    let mut key = [0u8; 4];
    if masked {
        r.read_exact(&mut key).await?;
    }
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload).await?;
    if masked {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
    }
    Ok(Some(Frame {
        fin,
        opcode,
        payload: payload.into(),
    }))
}

/// The write side of a connection: whole frames queued to one writer task.
#[derive(Clone)]
pub struct Sender {
    tx: mpsc::Sender<Bytes>,
}

impl Sender {
    /// Sends one binary message; false once the connection is gone.
    pub async fn binary(&self, payload: &[u8]) -> bool {
        self.tx.send(encode(op::BINARY, payload)).await.is_ok()
    }

    /// Sends a close frame with a normal-closure code; the writer then stops.
    pub async fn close(&self) {
        let _ = self
            .tx
            .send(encode(op::CLOSE, &1000u16.to_be_bytes()))
            .await;
    }
}

/// Starts the writer task over `w`; it ends after a close frame or when every sender is gone.
pub fn writer<W: AsyncWrite + Unpin + Send + 'static>(mut w: W) -> Sender {
    let (tx, mut rx) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            let closing = frame.first() == Some(&(0x80 | op::CLOSE));
            if w.write_all(&frame).await.is_err() || w.flush().await.is_err() {
                break;
            }
            if closing {
                break;
            }
        }
        let _ = w.shutdown().await;
    });
    Sender { tx }
}

/// Reads whole messages, answering pings through `sender`.
pub struct Reader<R> {
    r: R,
    sender: Sender,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    /// A reader whose pongs go out through `sender`.
    pub fn new(r: R, sender: Sender) -> Self {
        Reader { r, sender }
    }

    /// The next data message; `None` once the client closed or the connection ended.
    pub async fn message(&mut self) -> Option<Bytes> {
        let mut buf = BytesMut::new();
        loop {
            let frame = read_frame(&mut self.r).await.ok()??;
            match frame.opcode {
                op::PING => {
                    let _ = self.sender.tx.send(encode(op::PONG, &frame.payload)).await;
                }
                op::PONG => {}
                op::CLOSE => return None,
                op::BINARY | op::TEXT | op::CONTINUATION => {
                    buf.extend_from_slice(&frame.payload);
                    if buf.len() > MAX_MESSAGE {
                        return None;
                    }
                    if frame.fin {
                        return Some(buf.freeze());
                    }
                }
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_key_is_the_rfc_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[tokio::test]
    async fn a_masked_client_frame_reads_back_unmasked() {
        for len in [0usize, 5, 125, 126, 300, 70_000] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let wire = encode_with_mask(op::BINARY, &payload, Some([1, 2, 3, 4]));
            let frame = read_frame(&mut &wire[..]).await.unwrap().unwrap();
            assert_eq!(frame.opcode, op::BINARY);
            assert!(frame.fin);
            assert_eq!(&frame.payload[..], &payload[..]);
        }
    }

    #[tokio::test]
    async fn fragments_join_and_pings_are_answered() {
        let (client, server) = tokio::io::duplex(1 << 16);
        let (sr, sw) = tokio::io::split(server);
        let mut reader = Reader::new(sr, writer(sw));
        let (mut cr, mut cw) = tokio::io::split(client);
        let mut wire = BytesMut::new();
        // "he" (not final), a ping, then "llo" (final continuation).
        let mut first = encode_with_mask(op::BINARY, b"he", Some([9, 9, 9, 9])).to_vec();
        first[0] &= 0x7f;
        wire.extend_from_slice(&first);
        wire.extend_from_slice(&encode_with_mask(op::PING, b"p", Some([1, 1, 1, 1])));
        wire.extend_from_slice(&encode_with_mask(
            op::CONTINUATION,
            b"llo",
            Some([7, 7, 7, 7]),
        ));
        cw.write_all(&wire).await.unwrap();
        assert_eq!(&reader.message().await.unwrap()[..], b"hello");
        let pong = read_frame(&mut cr).await.unwrap().unwrap();
        assert_eq!((pong.opcode, &pong.payload[..]), (op::PONG, &b"p"[..]));
        cw.write_all(&encode_with_mask(op::CLOSE, &[3, 232], Some([0; 4])))
            .await
            .unwrap();
        assert!(reader.message().await.is_none());
    }
}
