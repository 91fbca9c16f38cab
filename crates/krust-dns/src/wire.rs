//! A query's question read straight from its bytes, without decoding the message: what the
//! answer to it depends on (the question's name in lower case, type and class, the RD and
//! CD bits, the EDNS payload size, the transport), as one byte string to key the packet
//! cache with (`packets.rs`). Only the plain queries every stub resolver sends are read
//! (one question, nothing else but an EDNS0 OPT record, no name compression); any other
//! message is decoded in full (`Message::from_vec`) and answered the long way.

/// The DNS header's length.
pub const HEADER: usize = 12;
/// The type of an EDNS0 OPT record.
const OPT: u16 = 41;
/// The longest key: 6 bytes of flags, type and class, and a name of at most 255 bytes.
pub const MAX_KEY: usize = 6 + 255 + 2;

/// The question of a plain query.
#[derive(Debug, PartialEq, Eq)]
pub struct Question {
    /// Where the question section ends (the header, the name, type and class).
    pub end: usize,
    key: [u8; MAX_KEY],
    key_len: usize,
}

impl Question {
    /// What the answer depends on, as bytes.
    pub fn key(&self) -> &[u8] {
        &self.key[..self.key_len]
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The question of `query` when it is a plain query, else `None` (decode it in full).
pub fn question(query: &[u8], tcp: bool) -> Option<Question> {
    let flags = u16_at(query, 2)?;
    // A query (QR clear) with the standard opcode.
    if flags & 0x8000 != 0 || (flags >> 11) & 0xf != 0 {
        return None;
    }
    let counts = (
        u16_at(query, 4)?,
        u16_at(query, 6)?,
        u16_at(query, 8)?,
        u16_at(query, 10)?,
    );
    let edns_records = match counts {
        (1, 0, 0, n @ (0 | 1)) => n,
        _ => return None,
    };
    let mut key = [0u8; MAX_KEY];
    // RD and CD: the only request bits a response copies.
    key[0] = u8::from(flags & 0x0100 != 0) | u8::from(flags & 0x0010 != 0) << 1;
    key[1] = u8::from(tcp);
    let mut at = HEADER;
    let mut k = 6;
    loop {
        let len = usize::from(*query.get(at)?);
        if len == 0 {
            key[k] = 0;
            k += 1;
            at += 1;
            break;
        }
        // A pointer or an extended label: not a plain query.
        if len > 63 || k + 1 + len + 1 + 2 > MAX_KEY {
            return None;
        }
        let label = query.get(at + 1..at + 1 + len)?;
        key[k] = len as u8;
        for (dst, src) in key[k + 1..k + 1 + len].iter_mut().zip(label) {
            *dst = src.to_ascii_lowercase();
        }
        k += 1 + len;
        at += 1 + len;
    }
    // Type and class.
    key[4..6].copy_from_slice(query.get(at + 2..at + 4)?);
    let qtype = query.get(at..at + 2)?;
    key[k..k + 2].copy_from_slice(qtype);
    k += 2;
    at += 4;
    let end = at;
    if edns_records == 1 {
        // The root name, OPT, payload size, extended rcode 0, version 0, flags, options.
        if *query.get(at)? != 0 || u16_at(query, at + 1)? != OPT {
            return None;
        }
        let payload = u16_at(query, at + 3)?;
        if query.get(at + 5..at + 7)? != [0, 0] {
            return None;
        }
        let rdlen = usize::from(u16_at(query, at + 9)?);
        let mut opt = at + 11;
        let options_end = opt + rdlen;
        while opt < options_end {
            let len = usize::from(u16_at(query, opt + 2)?);
            opt += 4 + len;
        }
        if opt != options_end {
            return None;
        }
        key[2..4].copy_from_slice(&payload.to_be_bytes());
        // EDNS present: the payload size with the top bit of the transport byte.
        key[1] |= 0x80;
        at = options_end;
    }
    (at == query.len()).then_some(Question {
        end,
        key,
        key_len: k,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Edns, Message, Query};
    use hickory_proto::rr::{Name, RecordType};

    fn query(name: &str, edns: Option<u16>) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
        if let Some(size) = edns {
            let mut e = Edns::new();
            e.set_max_payload(size);
            m.set_edns(e);
        }
        m.to_vec().unwrap()
    }

    #[test]
    fn a_question_differing_only_in_case_has_the_same_key() {
        let a = question(&query("web.default.svc.cluster.local.", None), false).unwrap();
        let b = question(&query("WEB.Default.svc.cluster.local.", None), false).unwrap();
        assert_eq!(a.key(), b.key());
        assert_eq!(a.end, 12 + 31 + 4);
    }

    #[test]
    fn the_transport_and_the_edns_size_are_part_of_the_key() {
        let name = "web.default.svc.cluster.local.";
        let plain = question(&query(name, None), false).unwrap();
        let tcp = question(&query(name, None), true).unwrap();
        let edns = question(&query(name, Some(1232)), false).unwrap();
        let bigger = question(&query(name, Some(4096)), false).unwrap();
        assert_ne!(plain.key(), tcp.key());
        assert_ne!(plain.key(), edns.key());
        assert_ne!(edns.key(), bigger.key());
        assert_eq!(edns.end, plain.end);
    }

    #[test]
    fn anything_but_a_plain_query_is_left_to_the_decoder() {
        let q = query("web.default.svc.cluster.local.", None);
        let mut response = q.clone();
        response[2] |= 0x80;
        assert!(question(&response, false).is_none());
        let mut trailing = q.clone();
        trailing.push(0);
        assert!(question(&trailing, false).is_none());
        assert!(question(&q[..20], false).is_none());
        let mut two = q.clone();
        two[5] = 2;
        assert!(question(&two, false).is_none());
    }
}
