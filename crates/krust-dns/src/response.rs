//! The response message to a query, as CoreDNS writes it: the header copied from the
//! request (`SetReply`: id, opcode, RD, CD), authoritative answers without RA (dig's
//! "recursion requested but not available" against kube-dns), the zone's SOA in the
//! authority section of a negative answer (`plugin.BackendError`), an OPT record with the client's
//! payload size when the request had one, and over UDP a message cut to the client's size with TC set
//! (`request.SizeAndDo`, `dns.Msg.Truncate`): at least 512 bytes, or the EDNS payload size.

use hickory_proto::op::{Edns, Message, MessageType, Metadata, ResponseCode};
use hickory_proto::rr::{Name, Record};

use crate::lookup::{Answer, soa};

/// The smallest UDP message size every client takes.
pub const MIN_UDP_SIZE: usize = 512;

/// An empty response to `request`: its id, opcode, question and RD/CD bits.
pub fn reply(request: &Message) -> Message {
    let mut m = Message::new(
        request.metadata.id,
        MessageType::Response,
        request.metadata.op_code,
    );
    m.metadata = Metadata::response_from_request(&request.metadata);
    m.add_queries(request.queries.iter().cloned());
    if let Some(edns) = &request.edns {
        let mut e = Edns::new();
        e.set_max_payload(edns.max_payload().max(MIN_UDP_SIZE as u16));
        m.set_edns(e);
    }
    m
}

/// An error response (FORMERR, SERVFAIL, NOTIMP, REFUSED) to `request`.
pub fn error(request: &Message, rcode: ResponseCode) -> Message {
    let mut m = reply(request);
    m.metadata.response_code = rcode;
    m
}

/// The response carrying `answer` from the cluster's zone `zone`.
pub fn authoritative(request: &Message, answer: Answer, zone: &Name, serial: u32) -> Message {
    let mut m = reply(request);
    m.metadata.authoritative = answer.rcode != ResponseCode::Refused;
    m.metadata.response_code = answer.rcode;
    let negative = answer.answers.is_empty()
        && matches!(answer.rcode, ResponseCode::NoError | ResponseCode::NXDomain);
    m.answers = answer.answers;
    m.additionals = answer.additionals;
    if negative {
        m.authorities.push(soa(zone, serial));
    }
    m
}

/// The largest message the client of `request` takes over UDP.
pub fn udp_size(request: &Message) -> usize {
    request.edns.as_ref().map_or(MIN_UDP_SIZE, |e| {
        usize::from(e.max_payload()).max(MIN_UDP_SIZE)
    })
}

/// `m` encoded in at most `size` bytes: as many answers as fit, TC set when any were left
/// out (authority and additional records go first).
pub fn encode_within(m: &Message, size: usize) -> Vec<u8> {
    let whole = m.to_vec().unwrap_or_default();
    if whole.len() <= size {
        return whole;
    }
    let mut cut = m.clone();
    cut.metadata.truncation = true;
    cut.authorities.clear();
    cut.additionals.clear();
    let answers: Vec<Record> = std::mem::take(&mut cut.answers);
    // The most answers that fit, by bisection (each try is one encoding).
    let (mut lo, mut hi) = (0, answers.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        cut.answers = answers[..mid].to_vec();
        if cut.to_vec().map_or(usize::MAX, |b| b.len()) <= size {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    cut.answers = answers[..lo].to_vec();
    cut.to_vec().unwrap_or_default()
}
