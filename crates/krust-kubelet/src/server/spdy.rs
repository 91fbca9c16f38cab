//! SPDY/3.1 framing, as the kubelet's streaming server speaks it (apimachinery's
//! `httpstream/spdy` over moby's `spdystream`): control and data frames, and header blocks
//! compressed with one zlib stream per direction, primed with the SPDY/3 dictionary.
//!
//! Flow control is not enforced (neither does spdystream): WINDOW_UPDATE and SETTINGS are
//! read and ignored.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::sync::OnceLock;

/// Control frame types used here.
pub mod kind {
    pub const SYN_STREAM: u16 = 1;
    pub const SYN_REPLY: u16 = 2;
    pub const RST_STREAM: u16 = 3;
    pub const SETTINGS: u16 = 4;
    pub const PING: u16 = 6;
    pub const GOAWAY: u16 = 7;
    pub const HEADERS: u16 = 8;
    pub const WINDOW_UPDATE: u16 = 9;
}

/// The FIN flag (last frame of a stream in that direction).
pub const FLAG_FIN: u8 = 0x01;

/// Headers, in order, names lowercase.
pub type Headers = Vec<(String, String)>;

/// One SPDY frame; header blocks still compressed.
#[derive(Debug, PartialEq, Eq, Clone)]
pub enum Frame {
    /// A control frame: its type, flags and payload.
    Control {
        kind: u16,
        flags: u8,
        payload: Bytes,
    },
    /// A data frame of a stream.
    Data { stream: u32, flags: u8, data: Bytes },
}

/// Takes one whole frame off the front of `buf`, if it holds one.
pub fn parse(buf: &mut BytesMut) -> Option<Frame> {
    if buf.len() < 8 {
        return None;
    }
    let len = u32::from_be_bytes([0, buf[5], buf[6], buf[7]]) as usize;
    if buf.len() < 8 + len {
        return None;
    }
    let mut frame = buf.split_to(8 + len);
    let first = frame.get_u32();
    let flags = frame.get_u8();
    frame.advance(3);
    let payload = frame.freeze();
    if first & 0x8000_0000 != 0 {
        Some(Frame::Control {
            kind: (first & 0xffff) as u16,
            flags,
            payload,
        })
    } else {
        Some(Frame::Data {
            stream: first & 0x7fff_ffff,
            flags,
            data: payload,
        })
    }
}

/// Encodes a control frame (version 3).
pub fn control(kind: u16, flags: u8, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(8 + payload.len());
    out.put_u16(0x8003);
    out.put_u16(kind);
    out.put_u32(((flags as u32) << 24) | payload.len() as u32);
    out.put_slice(payload);
    out.freeze()
}

/// Encodes a data frame.
pub fn data(stream: u32, flags: u8, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(8 + payload.len());
    out.put_u32(stream & 0x7fff_ffff);
    out.put_u32(((flags as u32) << 24) | payload.len() as u32);
    out.put_slice(payload);
    out.freeze()
}

/// The stream id at the front of a SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS or
/// WINDOW_UPDATE payload.
pub fn stream_id(payload: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(payload.get(..4)?.try_into().ok()?) & 0x7fff_ffff)
}

/// The header block of a SYN_STREAM (after stream id, associated id, priority and slot).
pub fn syn_stream_block(payload: &[u8]) -> Option<&[u8]> {
    payload.get(10..)
}

/// The header block of a SYN_REPLY or HEADERS frame (after the stream id).
pub fn reply_block(payload: &[u8]) -> Option<&[u8]> {
    payload.get(4..)
}

/// The SPDY/3 header compression dictionary (draft-mbelshe-httpbis-spdy-00 §2.6.10.1):
/// length-prefixed header names and values, then a run of common strings.
pub fn dictionary() -> &'static [u8] {
    static DICT: OnceLock<Vec<u8>> = OnceLock::new();
    DICT.get_or_init(|| {
        const WORDS: &[&str] = &[
            "options",
            "head",
            "post",
            "put",
            "delete",
            "trace",
            "accept",
            "accept-charset",
            "accept-encoding",
            "accept-language",
            "accept-ranges",
            "age",
            "allow",
            "authorization",
            "cache-control",
            "connection",
            "content-base",
            "content-encoding",
            "content-language",
            "content-length",
            "content-location",
            "content-md5",
            "content-range",
            "content-type",
            "date",
            "etag",
            "expect",
            "expires",
            "from",
            "host",
            "if-match",
            "if-modified-since",
            "if-none-match",
            "if-range",
            "if-unmodified-since",
            "last-modified",
            "location",
            "max-forwards",
            "pragma",
            "proxy-authenticate",
            "proxy-authorization",
            "range",
            "referer",
            "retry-after",
            "server",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "user-agent",
            "vary",
            "via",
            "warning",
            "www-authenticate",
            "method",
            "get",
            "status",
            "200 OK",
            "version",
            "HTTP/1.1",
            "url",
            "public",
            "set-cookie",
            "keep-alive",
            "origin",
        ];
        const TAIL: &str = "100101201202205206300302303304305306307402405406407408409410411\
            412413414415416417502504505203 Non-Authoritative Information204 No Content301 Moved \
            Permanently400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal \
            Server Error501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul \
            Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,\
            text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,\
            text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8\
            charset=iso-8859-1,utf-,*,enq=0.";
        let mut d = Vec::with_capacity(1423);
        for w in WORDS {
            d.extend_from_slice(&(w.len() as u32).to_be_bytes());
            d.extend_from_slice(w.as_bytes());
        }
        d.extend_from_slice(TAIL.as_bytes());
        d
    })
}

/// Writes header blocks: one zlib stream for the life of the session.
pub struct HeaderEncoder {
    z: Compress,
}

impl Default for HeaderEncoder {
    fn default() -> Self {
        let mut z = Compress::new(Compression::default(), true);
        z.set_dictionary(dictionary())
            .expect("a zlib compressor takes a dictionary");
        HeaderEncoder { z }
    }
}

impl HeaderEncoder {
    /// The compressed block for `headers` (sync-flushed, so it stands alone in its frame).
    pub fn encode(&mut self, headers: &[(&str, &str)]) -> Vec<u8> {
        let mut raw = Vec::new();
        raw.extend_from_slice(&(headers.len() as u32).to_be_bytes());
        for (k, v) in headers {
            raw.extend_from_slice(&(k.len() as u32).to_be_bytes());
            raw.extend_from_slice(k.to_ascii_lowercase().as_bytes());
            raw.extend_from_slice(&(v.len() as u32).to_be_bytes());
            raw.extend_from_slice(v.as_bytes());
        }
        let mut out = Vec::with_capacity(raw.len() + 64);
        let mut input = &raw[..];
        loop {
            out.reserve(256);
            let before = self.z.total_in();
            self.z
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .expect("compressing into a growing buffer");
            input = &input[(self.z.total_in() - before) as usize..];
            if input.is_empty() && out.len() < out.capacity() {
                return out;
            }
        }
    }
}

/// Reads header blocks: one zlib stream for the life of the session.
pub struct HeaderDecoder {
    z: Decompress,
}

impl Default for HeaderDecoder {
    fn default() -> Self {
        HeaderDecoder {
            z: Decompress::new(true),
        }
    }
}

impl HeaderDecoder {
    /// Decompresses and parses one block; multi-valued headers (NUL-separated) are split.
    pub fn decode(&mut self, block: &[u8]) -> Result<Headers, String> {
        let mut raw = Vec::with_capacity(block.len() * 4 + 64);
        let mut input = block;
        loop {
            raw.reserve(1024);
            let before = self.z.total_in();
            match self
                .z
                .decompress_vec(input, &mut raw, FlushDecompress::Sync)
            {
                Ok(Status::Ok | Status::BufError | Status::StreamEnd) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.z
                        .set_dictionary(dictionary())
                        .map_err(|e| format!("header dictionary: {e}"))?;
                }
                Err(e) => return Err(format!("header block: {e}")),
            }
            input = &input[(self.z.total_in() - before) as usize..];
            if input.is_empty() && raw.len() < raw.capacity() {
                break;
            }
        }
        parse_block(&raw)
    }
}

fn parse_block(mut raw: &[u8]) -> Result<Headers, String> {
    let bad = || "malformed header block".to_string();
    let take = |raw: &mut &[u8]| -> Result<Vec<u8>, String> {
        if raw.len() < 4 {
            return Err(bad());
        }
        let n = raw.get_u32() as usize;
        if raw.len() < n {
            return Err(bad());
        }
        let v = raw[..n].to_vec();
        raw.advance(n);
        Ok(v)
    };
    if raw.len() < 4 {
        return Err(bad());
    }
    let count = raw.get_u32();
    let mut headers = Vec::new();
    for _ in 0..count {
        let name = String::from_utf8_lossy(&take(&mut raw)?).to_ascii_lowercase();
        let value = take(&mut raw)?;
        for v in value.split(|b| *b == 0) {
            headers.push((name.clone(), String::from_utf8_lossy(v).into_owned()));
        }
    }
    Ok(headers)
}

/// The first value of header `name`.
pub fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A SYN_STREAM payload (for tests and clients): stream id, no association, priority 0.
pub fn syn_stream_payload(stream: u32, block: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(10 + block.len());
    p.extend_from_slice(&stream.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(block);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dictionary_has_the_spec_length() {
        let d = dictionary();
        assert_eq!(d.len(), 1423);
        assert_eq!(&d[..11], b"\0\0\0\x07options");
        assert!(d.ends_with(b",*,enq=0."));
    }

    #[test]
    fn header_blocks_round_trip_across_frames_of_one_session() {
        let mut enc = HeaderEncoder::default();
        let mut dec = HeaderDecoder::default();
        let first = enc.encode(&[("streamType", "error"), ("port", "80"), ("requestID", "0")]);
        let second = enc.encode(&[("streamtype", "data"), ("port", "80"), ("requestid", "0")]);
        // The first block starts a zlib stream that names a preset dictionary (FDICT).
        assert_eq!(first[0] & 0x0f, 8);
        assert_ne!(first[1] & 0x20, 0);
        let h1 = dec.decode(&first).unwrap();
        assert_eq!(header(&h1, "streamtype"), Some("error"));
        assert_eq!(header(&h1, "port"), Some("80"));
        let h2 = dec.decode(&second).unwrap();
        assert_eq!(header(&h2, "streamtype"), Some("data"));
        assert_eq!(h2.len(), 3);
    }

    #[test]
    fn frames_are_parsed_whole_from_a_byte_stream() {
        let mut enc = HeaderEncoder::default();
        let block = enc.encode(&[("streamtype", "data")]);
        let syn = control(kind::SYN_STREAM, 0, &syn_stream_payload(3, &block));
        let dat = data(3, FLAG_FIN, b"hello");
        let mut all = BytesMut::new();
        all.extend_from_slice(&syn);
        all.extend_from_slice(&dat);
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for b in all.iter() {
            buf.put_u8(*b);
            if let Some(f) = parse(&mut buf) {
                frames.push(f);
            }
        }
        assert_eq!(frames.len(), 2);
        let Frame::Control {
            kind: k, payload, ..
        } = &frames[0]
        else {
            panic!("not a control frame")
        };
        assert_eq!(*k, kind::SYN_STREAM);
        assert_eq!(stream_id(payload), Some(3));
        let h = HeaderDecoder::default()
            .decode(syn_stream_block(payload).unwrap())
            .unwrap();
        assert_eq!(header(&h, "streamtype"), Some("data"));
        assert_eq!(
            frames[1],
            Frame::Data {
                stream: 3,
                flags: FLAG_FIN,
                data: Bytes::from_static(b"hello")
            }
        );
    }
}
