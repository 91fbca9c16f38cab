//! Counting, combining and filtering Events, as client-go's `EventCorrelator`
//! (`tools/record/events_cache.go`) does, in its order:
//! 1. similar Events (same source, object, type and reason; other messages) past a number
//!    within an interval become one Event whose message says it is combined;
//! 2. repeats of one Event (same source, object, field, type, reason and message) bump the
//!    `count` of the Event already posted instead of adding one;
//! 3. a spam filter: each source and object gets a burst of Events, then one more per refill
//!    period (a token bucket); what it holds back is still counted.
//!
//! Each step is an option; the caches are bounded, the oldest entries forgotten first.

use super::Record;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Combining similar Events (client-go's `EventAggregator`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Similar {
    /// From this many distinct messages within `interval`, Events are combined.
    pub max_events: usize,
    /// How long similar Events are remembered after the last one.
    pub interval: Duration,
}

impl Default for Similar {
    /// client-go's: 10 within 10 minutes.
    fn default() -> Self {
        Similar {
            max_events: 10,
            interval: Duration::from_secs(600),
        }
    }
}

/// The spam filter per source and object (client-go's `EventSourceObjectSpamFilter`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpamFilter {
    /// Events an object may get at once.
    pub burst: f64,
    /// One more Event is let through every this often.
    pub refill: Duration,
}

impl Default for SpamFilter {
    /// client-go's: a burst of 25, then one every 5 minutes.
    fn default() -> Self {
        SpamFilter {
            burst: 25.0,
            refill: Duration::from_secs(300),
        }
    }
}

/// What a recorder counts, combines and filters.
#[derive(Clone, Debug, PartialEq)]
pub struct Correlation {
    /// Count repeats of an Event, remembering this many Events; `None`: every Event is new.
    pub repeats: Option<usize>,
    /// Combine similar Events.
    pub similar: Option<Similar>,
    /// Hold back Events past a burst per object.
    pub spam_filter: Option<SpamFilter>,
}

/// Events remembered by client-go's caches.
const REMEMBERED: usize = 4096;

impl Correlation {
    /// Nothing counted, combined or filtered.
    pub fn none() -> Self {
        Correlation {
            repeats: None,
            similar: None,
            spam_filter: None,
        }
    }

    /// Repeats counted and spam filtered, similar Events kept apart (the controllers').
    pub fn counting() -> Self {
        Correlation {
            repeats: Some(REMEMBERED),
            similar: None,
            spam_filter: Some(SpamFilter::default()),
        }
    }

    /// All of client-go's defaults.
    pub fn client_go() -> Self {
        Correlation {
            similar: Some(Similar::default()),
            ..Self::counting()
        }
    }

    /// Whether any step is on.
    pub(super) fn enabled(&self) -> bool {
        *self != Self::none()
    }
}

/// A map that forgets its oldest entries past a size.
struct Bounded<K, V> {
    map: HashMap<K, V>,
    order: VecDeque<K>,
    max: usize,
}

impl<K: Hash + Eq + Clone, V> Bounded<K, V> {
    fn new(max: usize) -> Self {
        Bounded {
            map: HashMap::new(),
            order: VecDeque::new(),
            max: max.max(1),
        }
    }

    fn entry(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        if !self.map.contains_key(&key) {
            while self.map.len() >= self.max {
                let Some(old) = self.order.pop_front() else {
                    break;
                };
                self.map.remove(&old);
            }
            self.order.push_back(key.clone());
        }
        self.map.entry(key).or_insert_with(make)
    }
}

struct SimilarLog {
    messages: HashSet<String>,
    last: Instant,
}

struct Seen {
    name: String,
    count: i32,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A recorder's correlation state.
pub(super) struct Correlator {
    options: Correlation,
    similar: Bounded<String, SimilarLog>,
    seen: Bounded<String, Seen>,
    buckets: HashMap<String, Bucket>,
}

/// The fields that make `record`'s source and object, joined.
fn object_key(component: &str, record: &Record) -> String {
    let o = &record.object;
    let fields = [
        Some(component),
        record.host.as_deref(),
        o.kind.as_deref(),
        o.namespace.as_deref(),
        o.name.as_deref(),
        o.uid.as_deref(),
        o.api_version.as_deref(),
    ];
    fields.map(Option::unwrap_or_default).join("\u{0}")
}

impl Correlator {
    pub(super) fn new(options: Correlation) -> Self {
        let remembered = options.repeats.unwrap_or(REMEMBERED);
        Correlator {
            options,
            similar: Bounded::new(REMEMBERED),
            seen: Bounded::new(remembered),
            buckets: HashMap::new(),
        }
    }

    /// Correlates `record` (its message may become a combined one), whose new Event would be
    /// named `name`: the name and `count` to write, or `None` if it is held back.
    pub(super) fn correlate(
        &mut self,
        record: &mut Record,
        component: &str,
        name: String,
        now: Instant,
    ) -> Option<(String, i32)> {
        let object = object_key(component, record);
        let mut key = format!(
            "{object}\u{0}{}\u{0}{}",
            record.type_.as_str(),
            record.reason
        );
        let combined = self.combine(&key, record, now);
        if !combined {
            let field = record.object.field_path.as_deref().unwrap_or_default();
            key = format!("{key}\u{0}{field}\u{0}{}", record.message);
        }
        let written = match self.options.repeats {
            None => (name, 1),
            Some(_) => {
                let seen = self.seen.entry(key, || Seen { name, count: 0 });
                seen.count = seen.count.saturating_add(1);
                (seen.name.clone(), seen.count)
            }
        };
        self.allowed(object, now).then_some(written)
    }

    /// Whether `record` is one of too many similar Events; if so its message says so.
    fn combine(&mut self, key: &str, record: &mut Record, now: Instant) -> bool {
        let Some(similar) = self.options.similar else {
            return false;
        };
        let log = self.similar.entry(key.to_string(), || SimilarLog {
            messages: HashSet::new(),
            last: now,
        });
        if now.duration_since(log.last) > similar.interval {
            log.messages.clear();
        }
        log.last = now;
        log.messages.insert(record.message.clone());
        if log.messages.len() < similar.max_events {
            return false;
        }
        record.message = format!("(combined from similar events): {}", record.message);
        true
    }

    /// The spam filter: takes a token from `object`'s bucket, if it has one.
    fn allowed(&mut self, object: String, now: Instant) -> bool {
        let Some(filter) = self.options.spam_filter else {
            return true;
        };
        if self.buckets.len() >= REMEMBERED {
            // Buckets that have refilled are the same as no bucket.
            let full = filter.refill.mul_f64(filter.burst);
            self.buckets.retain(|_, b| now.duration_since(b.at) < full);
        }
        let b = self.buckets.entry(object).or_insert(Bucket {
            tokens: filter.burst,
            at: now,
        });
        let refill = now.duration_since(b.at).as_secs_f64() / filter.refill.as_secs_f64();
        b.tokens = (b.tokens + refill).min(filter.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::EventType;
    use super::*;
    use k8s_openapi::api::core::v1::ObjectReference;

    fn record(name: &str, message: &str) -> Record {
        let object = ObjectReference {
            kind: Some("Pod".into()),
            namespace: Some("default".into()),
            name: Some(name.into()),
            uid: Some(format!("uid-{name}")),
            ..Default::default()
        };
        Record::new(object, EventType::Normal, "Poked", message)
    }

    /// Correlates `r` as the `n`th Event: the name and count to write.
    fn run(c: &mut Correlator, mut r: Record, n: usize, now: Instant) -> Option<(String, i32)> {
        let name = format!("{}.{n}", r.object.name.clone().unwrap());
        c.correlate(&mut r, "test", name, now)
    }

    #[test]
    fn repeats_of_one_event_bump_its_count_under_its_first_name() {
        let mut c = Correlator::new(Correlation::counting());
        let now = Instant::now();
        assert_eq!(
            run(&mut c, record("a", "m"), 1, now),
            Some(("a.1".into(), 1))
        );
        assert_eq!(
            run(&mut c, record("a", "m"), 2, now),
            Some(("a.1".into(), 2))
        );
        assert_eq!(
            run(&mut c, record("a", "other"), 3, now),
            Some(("a.3".into(), 1))
        );
        assert_eq!(
            run(&mut c, record("b", "m"), 4, now),
            Some(("b.4".into(), 1))
        );
    }

    #[test]
    fn without_correlation_every_event_is_new() {
        let mut c = Correlator::new(Correlation::none());
        let now = Instant::now();
        for n in 1..4 {
            let got = run(&mut c, record("a", "m"), n, now);
            assert_eq!(got, Some((format!("a.{n}"), 1)));
        }
    }

    #[test]
    fn the_spam_filter_lets_a_burst_through_then_one_per_refill_and_still_counts() {
        let mut c = Correlator::new(Correlation::counting());
        let start = Instant::now();
        for n in 1..=25 {
            assert!(run(&mut c, record("a", "m"), n, start).is_some(), "{n}");
        }
        assert_eq!(run(&mut c, record("a", "m"), 26, start), None);
        assert!(
            run(&mut c, record("b", "m"), 27, start).is_some(),
            "per object"
        );
        let later = start + Duration::from_secs(300);
        assert_eq!(
            run(&mut c, record("a", "m"), 28, later),
            Some(("a.1".into(), 27))
        );
        assert_eq!(run(&mut c, record("a", "m"), 29, later), None);
    }

    #[test]
    fn similar_events_past_the_limit_are_combined_into_one() {
        let mut c = Correlator::new(Correlation::client_go());
        let now = Instant::now();
        for n in 1..10 {
            let mut r = record("a", &format!("Created pod: p{n}"));
            let got = c.correlate(&mut r, "test", format!("a.{n}"), now);
            assert_eq!(got, Some((format!("a.{n}"), 1)));
            assert_eq!(r.message, format!("Created pod: p{n}"));
        }
        for n in 10..13 {
            let mut r = record("a", &format!("Created pod: p{n}"));
            let got = c.correlate(&mut r, "test", format!("a.{n}"), now);
            assert_eq!(got, Some(("a.10".into(), n - 9)));
            let combined = format!("(combined from similar events): Created pod: p{n}");
            assert_eq!(r.message, combined);
        }
        let much_later = now + Duration::from_secs(601);
        let mut r = record("a", "Created pod: q");
        assert_eq!(
            c.correlate(&mut r, "test", "a.20".into(), much_later),
            Some(("a.20".into(), 1))
        );
    }

    #[test]
    fn the_oldest_events_are_forgotten_first() {
        let mut c = Correlator::new(Correlation {
            repeats: Some(2),
            ..Correlation::none()
        });
        let now = Instant::now();
        run(&mut c, record("a", "m"), 1, now);
        run(&mut c, record("b", "m"), 2, now);
        run(&mut c, record("c", "m"), 3, now);
        assert_eq!(
            run(&mut c, record("a", "m"), 4, now),
            Some(("a.4".into(), 1))
        );
        assert_eq!(
            run(&mut c, record("c", "m"), 5, now),
            Some(("c.3".into(), 2))
        );
    }
}
