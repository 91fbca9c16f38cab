//! A minimal protobuf wire format (as `google.golang.org/protobuf/encoding/protowire`
//! defines it): a reader of varints, length-delimited fields and fixed32/fixed64, yielding
//! `(field number, value)` pairs in wire order, and a writer of varint and
//! length-delimited fields.

/// One field value as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wire<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64(u64),
    /// Wire type 2: strings, bytes, embedded messages and packed repeated scalars.
    Len(&'a [u8]),
    /// Wire type 5.
    Fixed32(u32),
}

impl Wire<'_> {
    /// The protobuf name of the wire type, for error messages.
    pub(super) fn name(&self) -> &'static str {
        match self {
            Wire::Varint(_) => "varint",
            Wire::Fixed64(_) => "fixed64",
            Wire::Len(_) => "length-delimited",
            Wire::Fixed32(_) => "fixed32",
        }
    }
}

/// Why the wire data could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum WireError {
    /// The data ends in the middle of a field.
    Truncated,
    /// A varint longer than 10 bytes.
    VarintTooLong,
    /// Field number 0, or a wire type that is unknown or unsupported (groups).
    BadTag(u64),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Truncated => f.write_str("data ends in the middle of a field"),
            WireError::VarintTooLong => f.write_str("varint longer than 10 bytes"),
            WireError::BadTag(tag) => write!(
                f,
                "invalid field tag {tag:#x} (field {}, wire type {})",
                tag >> 3,
                tag & 7
            ),
        }
    }
}

/// Iterates over the fields of one message. Stops after the first error.
pub(super) struct Fields<'a> {
    buf: &'a [u8],
    failed: bool,
}

/// The fields of the message encoded in `buf`.
pub(super) fn fields(buf: &[u8]) -> Fields<'_> {
    Fields { buf, failed: false }
}

impl<'a> Fields<'a> {
    fn next_field(&mut self) -> Result<(u32, Wire<'a>), WireError> {
        let tag = varint(&mut self.buf)?;
        let number = u32::try_from(tag >> 3).map_err(|_| WireError::BadTag(tag))?;
        if number == 0 {
            return Err(WireError::BadTag(tag));
        }
        let value = match tag & 7 {
            0 => Wire::Varint(varint(&mut self.buf)?),
            1 => Wire::Fixed64(u64::from_le_bytes(array(&mut self.buf)?)),
            2 => {
                let len =
                    usize::try_from(varint(&mut self.buf)?).map_err(|_| WireError::Truncated)?;
                Wire::Len(take(&mut self.buf, len)?)
            }
            5 => Wire::Fixed32(u32::from_le_bytes(array(&mut self.buf)?)),
            _ => return Err(WireError::BadTag(tag)),
        };
        Ok((number, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Wire<'a>), WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() || self.failed {
            return None;
        }
        let item = self.next_field();
        self.failed = item.is_err();
        Some(item)
    }
}

/// Reads one base-128 varint from the front of `buf`.
pub(super) fn varint(buf: &mut &[u8]) -> Result<u64, WireError> {
    let mut value = 0u64;
    for (i, &byte) in buf.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            *buf = &buf[i + 1..];
            return Ok(value);
        }
    }
    Err(if buf.len() >= 10 {
        WireError::VarintTooLong
    } else {
        WireError::Truncated
    })
}

/// Appends a base-128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends field `number` as a varint (wire type 0).
pub fn put_varint_field(out: &mut Vec<u8>, number: u32, value: u64) {
    put_varint(out, u64::from(number) << 3);
    put_varint(out, value);
}

/// Appends field `number` as a little-endian 64-bit value (wire type 1: `double`, `fixed64`).
pub fn put_fixed64_field(out: &mut Vec<u8>, number: u32, bytes: [u8; 8]) {
    put_varint(out, (u64::from(number) << 3) | 1);
    out.extend_from_slice(&bytes);
}

/// Appends field `number` as length-delimited bytes (wire type 2).
pub fn put_len_field(out: &mut Vec<u8>, number: u32, bytes: &[u8]) {
    put_varint(out, (u64::from(number) << 3) | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn array<const N: usize>(buf: &mut &[u8]) -> Result<[u8; N], WireError> {
    let mut out = [0; N];
    out.copy_from_slice(take(buf, N)?);
    Ok(out)
}

fn take<'a>(buf: &mut &'a [u8], len: usize) -> Result<&'a [u8], WireError> {
    if buf.len() < len {
        return Err(WireError::Truncated);
    }
    let (head, tail) = buf.split_at(len);
    *buf = tail;
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protobuf_wire_reads_every_wire_type() {
        // 1: varint 150, 2: "hi", 3: fixed32 1, 4: fixed64 2
        let data = [
            0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x1d, 1, 0, 0, 0, 0x21, 2, 0, 0, 0, 0, 0, 0,
            0,
        ];
        let got: Vec<_> = fields(&data).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            got,
            vec![
                (1, Wire::Varint(150)),
                (2, Wire::Len(b"hi")),
                (3, Wire::Fixed32(1)),
                (4, Wire::Fixed64(2)),
            ]
        );
    }

    #[test]
    fn protobuf_wire_reports_truncation_and_bad_tags() {
        assert_eq!(
            fields(&[0x12, 0x05, b'a']).next(),
            Some(Err(WireError::Truncated))
        );
        assert_eq!(
            fields(&[0x08, 0x96]).next(),
            Some(Err(WireError::Truncated))
        );
        assert_eq!(fields(&[0x0b]).next(), Some(Err(WireError::BadTag(0x0b))));
        assert_eq!(
            fields(&[0x00, 0x01]).next(),
            Some(Err(WireError::BadTag(0)))
        );
        assert_eq!(
            fields(&[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
            ])
            .next(),
            Some(Err(WireError::VarintTooLong))
        );
    }

    #[test]
    fn protobuf_wire_writes_what_it_reads() {
        let mut out = Vec::new();
        put_varint_field(&mut out, 1, 150);
        put_len_field(&mut out, 2, b"hi");
        put_varint_field(&mut out, 3, -1i64 as u64);
        let got: Vec<_> = fields(&out).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            got,
            vec![
                (1, Wire::Varint(150)),
                (2, Wire::Len(b"hi")),
                (3, Wire::Varint(u64::MAX))
            ]
        );
    }

    #[test]
    fn protobuf_wire_decodes_negative_int32_varints() {
        let mut buf: &[u8] = &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(varint(&mut buf).unwrap() as i32, -1);
        assert!(buf.is_empty());
    }
}
