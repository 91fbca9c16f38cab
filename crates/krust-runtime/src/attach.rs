//! The attach protocol between an agent and a container's monitor (what conmon's attach
//! and control sockets are to CRI-O, here one framed socket): the monitor sends the
//! container's output as frames; the client sends input, terminal sizes, the end of input,
//! and asks for the log to be reopened.
//! A frame is a kind byte, a big-endian u32 length and that many bytes.

/// Output frames, monitor to client.
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
/// Input frames, client to monitor: bytes for the container's stdin, a terminal size
/// (width and height, big-endian u16 each), the end of stdin.
pub const STDIN: u8 = 0;
pub const RESIZE: u8 = 3;
pub const CLOSE_STDIN: u8 = 4;
/// Client to monitor: reopen the log file (after the kubelet rotated it); the monitor
/// answers `LOG_REOPENED` once it writes to the new file.
pub const REOPEN_LOG: u8 = 5;
pub const LOG_REOPENED: u8 = 6;

/// Where a container's attach socket is (short: socket paths hold at most 107 bytes).
pub fn socket_path(id: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(format!(
        "/run/krust-runtime/{}.attach",
        &id[..id.len().min(32)]
    ))
}

/// One frame.
pub fn frame(kind: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 5);
    out.push(kind);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// Reads one frame (blocking); `None` at the end of the stream.
#[cfg(test)]
pub fn read_frame(reader: &mut impl std::io::Read) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 5];
    reader.read_exact(&mut head).ok()?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let mut data = vec![0u8; len];
    reader.read_exact(&mut data).ok()?;
    Some((head[0], data))
}

/// Reads one frame; `None` at the end of the stream.
pub async fn read_frame_async(
    reader: &mut (impl tokio::io::AsyncRead + Unpin),
) -> Option<(u8, Vec<u8>)> {
    use tokio::io::AsyncReadExt;
    let mut head = [0u8; 5];
    reader.read_exact(&mut head).await.ok()?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let mut data = vec![0u8; len];
    reader.read_exact(&mut data).await.ok()?;
    Some((head[0], data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_read_back_as_written() {
        let mut bytes = frame(STDOUT, b"hello");
        bytes.extend(frame(RESIZE, &[0, 80, 0, 24]));
        let mut reader = &bytes[..];
        assert_eq!(read_frame(&mut reader), Some((STDOUT, b"hello".to_vec())));
        assert_eq!(read_frame(&mut reader), Some((RESIZE, vec![0, 80, 0, 24])));
        assert_eq!(read_frame(&mut reader), None);
    }
}
