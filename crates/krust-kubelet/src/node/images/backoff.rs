//! The kubelet's image pull back-off (client-go's `flowcontrol.Backoff` as the image manager
//! uses it): per key (the kubelet's `<pod uid>_<image>`), the first failure waits `initial`,
//! each failure within the wait doubles it up to `max`; an entry untouched for `2 × max` is
//! forgotten, so the next failure starts again at `initial`. A success forgets the key.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Back-off entries by key.
#[derive(Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    entries: HashMap<String, Entry>,
}

#[derive(Debug)]
struct Entry {
    backoff: Duration,
    last_update: Instant,
}

impl Backoff {
    /// A back-off starting at `initial`, doubling up to `max` (the kubelet: 10 s, 300 s).
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            entries: HashMap::new(),
        }
    }

    /// Whether `key` failed less than its back-off ago (`IsInBackOffSinceUpdate`).
    pub fn in_backoff(&self, key: &str, now: Instant) -> bool {
        self.entries.get(key).is_some_and(|e| {
            let since = now.saturating_duration_since(e.last_update);
            !self.expired(since) && since < e.backoff
        })
    }

    /// Records a failure of `key` at `now` (`Next`): the next back-off.
    pub fn failed(&mut self, key: &str, now: Instant) -> Duration {
        let (initial, max) = (self.initial, self.max);
        let expired = |e: &Entry| self.expired(now.saturating_duration_since(e.last_update));
        let backoff = match self.entries.get(key) {
            Some(e) if !expired(e) => (e.backoff * 2).min(max),
            _ => initial,
        };
        self.entries.insert(
            key.to_owned(),
            Entry {
                backoff,
                last_update: now,
            },
        );
        self.entries
            .retain(|_, e| now.saturating_duration_since(e.last_update) <= max * 2);
        backoff
    }

    /// Forgets `key` after a success.
    pub fn succeeded(&mut self, key: &str) {
        self.entries.remove(key);
    }

    fn expired(&self, since: Duration) -> bool {
        since > self.max * 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_double_the_back_off_up_to_the_maximum_and_it_ends_when_it_has_run() {
        let mut b = Backoff::new(Duration::from_secs(10), Duration::from_secs(300));
        let t0 = Instant::now();
        assert!(!b.in_backoff("k", t0));
        assert_eq!(b.failed("k", t0), Duration::from_secs(10));
        assert!(b.in_backoff("k", t0 + Duration::from_secs(9)));
        assert!(!b.in_backoff("k", t0 + Duration::from_secs(10)));
        let mut t = t0;
        let mut seen = Vec::new();
        for _ in 0..6 {
            t += Duration::from_secs(11);
            seen.push(b.failed("k", t).as_secs());
        }
        assert_eq!(seen, [20, 40, 80, 160, 300, 300]);
        assert!(!b.in_backoff("other", t));
    }

    #[test]
    fn a_key_untouched_for_twice_the_maximum_starts_again_at_the_initial_back_off() {
        let mut b = Backoff::new(Duration::from_secs(10), Duration::from_secs(300));
        let t0 = Instant::now();
        b.failed("k", t0);
        b.failed("k", t0 + Duration::from_secs(1));
        let later = t0 + Duration::from_secs(602);
        assert_eq!(b.failed("k", later), Duration::from_secs(10));
        b.succeeded("k");
        assert!(!b.in_backoff("k", later));
    }
}
