//! The upstream resolvers' answers kept for their TTL, as CoreDNS' `cache 30` keeps them
//! (`plugin/cache`): a successful answer for the smallest TTL of its answer records, a
//! negative one (NXDOMAIN, NODATA) for its SOA's negative TTL (the smaller of the record's
//! TTL and its `minimum`, RFC 2308), both at most 30 s; truncated answers and failures are
//! not kept. An answer from the cache has every TTL set to the time it has left (as
//! CoreDNS' `item.toMsg`), and the id, question and RD/CD bits of the query it answers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, Record, RecordType};

use crate::response;

/// The longest an answer is kept (`cache 30`).
pub const MAX_TTL: u32 = 30;
/// How many answers are kept (CoreDNS' default capacity of each of its two caches).
pub const CAPACITY: usize = 9984;

/// What an upstream answer depends on: the name in lower case, type, class, and the
/// DNSSEC bits (DO and CD), as CoreDNS' cache key.
type Key = (String, u16, u16, bool, bool);

struct Kept {
    message: Message,
    stored: Instant,
    ttl: Duration,
}

/// Answers of the upstream resolvers, by question.
#[derive(Default)]
pub struct Cache {
    kept: Mutex<HashMap<Key, Kept>>,
}

fn key(request: &Message) -> Option<Key> {
    let [q] = request.queries.as_slice() else {
        return None;
    };
    let dnssec_ok = request.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
    Some((
        q.name().to_lowercase().to_ascii(),
        u16::from(q.query_type()),
        u16::from(q.query_class()),
        dnssec_ok,
        request.metadata.checking_disabled,
    ))
}

/// How long `answer` may be kept, if at all.
fn lifetime(answer: &Message) -> Option<u32> {
    if answer.metadata.truncation {
        return None;
    }
    let ttl = match answer.metadata.response_code {
        ResponseCode::NoError if !answer.answers.is_empty() => {
            answer.answers.iter().map(|r| r.ttl).min()?
        }
        ResponseCode::NoError | ResponseCode::NXDomain => {
            answer.authorities.iter().find_map(|r| match &r.data {
                RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
                _ => None,
            })?
        }
        _ => return None,
    };
    Some(ttl.min(MAX_TTL)).filter(|t| *t > 0)
}

impl Cache {
    /// The kept answer to `request`, made its own.
    pub fn get(&self, request: &Message) -> Option<Message> {
        let key = key(request)?;
        let mut kept = self.kept.lock().expect("cache");
        let entry = kept.get(&key)?;
        let age = entry.stored.elapsed();
        if age >= entry.ttl {
            kept.remove(&key);
            return None;
        }
        let mut m = response::reply(request);
        let left = entry.ttl.as_secs().saturating_sub(age.as_secs()).max(1) as u32;
        let lower = |records: &[Record]| -> Vec<Record> {
            records
                .iter()
                .filter(|r| r.record_type() != RecordType::OPT)
                .map(|r| {
                    let mut r = r.clone();
                    r.ttl = left;
                    r
                })
                .collect()
        };
        let source = &entry.message;
        m.metadata.response_code = source.metadata.response_code;
        m.metadata.authoritative = false;
        m.metadata.recursion_available = source.metadata.recursion_available;
        m.metadata.authentic_data = source.metadata.authentic_data;
        m.answers = lower(&source.answers);
        m.authorities = lower(&source.authorities);
        m.additionals = lower(&source.additionals);
        Some(m)
    }

    /// Keeps the upstream's `answer` (wire format) to `request`, if it may be kept.
    pub fn put(&self, request: &Message, answer: &[u8]) {
        let (Some(key), Ok(message)) = (key(request), Message::from_vec(answer)) else {
            return;
        };
        let Some(ttl) = lifetime(&message) else {
            return;
        };
        let mut kept = self.kept.lock().expect("cache");
        if kept.len() >= CAPACITY {
            kept.retain(|_, e| e.stored.elapsed() < e.ttl);
            if kept.len() >= CAPACITY {
                return;
            }
        }
        kept.insert(
            key,
            Kept {
                message,
                stored: Instant::now(),
                ttl: Duration::from_secs(ttl.into()),
            },
        );
    }
}
