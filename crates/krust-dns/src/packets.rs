//! The cluster's answers kept as the packets sent, as CoreDNS' `cache` plugin keeps the
//! answers of the zone (the Corefile's `cache 30`, capped by their 5 s TTL), but never
//! older than the records: the packets of a snapshot are dropped with it, so an answer
//! changes as soon as the cluster does. A query whose question (`wire.rs`) was answered
//! before is answered by copying the packet, with the query's id and question (the answer
//! records' names point to the question, so they echo its case).
//!
//! Every answer of the zone, kept or not, goes through [`Packet::reply`], which rotates
//! the address records of a name with several (a headless Service's endpoints) by one at
//! each answer, as CoreDNS' `loadbalance` plugin (in the default Corefile) shuffles them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::records::Records;
use crate::wire::HEADER;

/// How many packets a snapshot keeps (CoreDNS' cache holds 9,984 of each kind).
pub const CAPACITY: usize = 9984;

/// A response as sent, and where its address records are.
#[derive(Debug)]
pub struct Packet {
    bytes: Vec<u8>,
    question_end: usize,
    rotation: Option<Rotation>,
}

/// Answer records of one address type and the question's name (a 2-byte pointer to it),
/// all of one size, one after the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rotation {
    start: usize,
    size: usize,
    count: usize,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The end of the question section of a message with one question of an uncompressed name.
fn question_end(bytes: &[u8]) -> Option<usize> {
    if u16_at(bytes, 4)? != 1 {
        return None;
    }
    let mut at = HEADER;
    loop {
        let len = usize::from(*bytes.get(at)?);
        if len == 0 {
            return Some(at + 1 + 4).filter(|end| *end <= bytes.len());
        }
        if len > 63 {
            return None;
        }
        at += 1 + len;
    }
}

/// The answer section, when it is two or more address records of the question's name.
fn rotation(bytes: &[u8], start: usize) -> Option<Rotation> {
    let count = usize::from(u16_at(bytes, 6)?);
    if count < 2 {
        return None;
    }
    let rtype = u16_at(bytes, start + 2)?;
    let rdlen = match rtype {
        1 => 4,
        28 => 16,
        _ => return None,
    };
    let size = 2 + 10 + rdlen;
    for i in 0..count {
        let at = start + i * size;
        let pointer = u16_at(bytes, at)? == 0xc000 | HEADER as u16;
        if !pointer || u16_at(bytes, at + 2)? != rtype || u16_at(bytes, at + 10)? != rdlen as u16 {
            return None;
        }
    }
    (start + count * size <= bytes.len()).then_some(Rotation { start, size, count })
}

impl Packet {
    /// A response of the zone, as encoded.
    pub fn new(bytes: Vec<u8>) -> Packet {
        let question_end = question_end(&bytes).unwrap_or(bytes.len());
        let rotation = rotation(&bytes, question_end);
        Packet {
            bytes,
            question_end,
            rotation,
        }
    }

    /// The response to `query`, whose question is this packet's (the same bytes but for
    /// their case), its address records rotated by `turn`.
    pub fn reply(&self, query: &[u8], turn: usize) -> Vec<u8> {
        let mut out = self.bytes.clone();
        out[..2].copy_from_slice(&query[..2]);
        if let Some(question) = query.get(HEADER..self.question_end) {
            out[HEADER..self.question_end].copy_from_slice(question);
        }
        if let Some(r) = self.rotation {
            let k = turn % r.count;
            out[r.start..r.start + r.count * r.size].rotate_left(k * r.size);
        }
        out
    }
}

/// The packets of the current snapshot, by question key.
#[derive(Default)]
pub struct Packets {
    inner: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    snapshot: Option<Arc<Records>>,
    packets: HashMap<Box<[u8]>, Arc<Packet>>,
}

impl Packets {
    /// The packet answering `key` in `snapshot`.
    pub fn get(&self, snapshot: &Arc<Records>, key: &[u8]) -> Option<Arc<Packet>> {
        let kept = self.inner.lock().expect("packets");
        match &kept.snapshot {
            Some(s) if Arc::ptr_eq(s, snapshot) => kept.packets.get(key).cloned(),
            _ => None,
        }
    }

    /// Keeps `packet` as the answer to `key` in `snapshot` (the packets of any other
    /// snapshot are dropped).
    pub fn insert(&self, snapshot: &Arc<Records>, key: &[u8], packet: Arc<Packet>) {
        let mut kept = self.inner.lock().expect("packets");
        if !kept
            .snapshot
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, snapshot))
        {
            kept.snapshot = Some(snapshot.clone());
            kept.packets.clear();
        }
        if kept.packets.len() < CAPACITY {
            kept.packets.insert(key.into(), packet);
        }
    }
}
