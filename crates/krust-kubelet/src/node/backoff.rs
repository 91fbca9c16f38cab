//! The kubelet's crash-loop back-off (client-go's `flowcontrol.Backoff` as the kubelet uses
//! it): a container that exits is restarted at once the first time; after that it waits
//! 10 s, doubling to 5 minutes, counted from its exit; an entry not touched for twice the
//! maximum (10 minutes running) starts again at 10 s.

use std::collections::HashMap;
use std::time::{Duration, Instant};

pub const INITIAL: Duration = Duration::from_secs(10);
pub const MAX: Duration = Duration::from_secs(300);

#[derive(Default, Debug)]
pub struct Backoff {
    entries: HashMap<String, Entry>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    delay: Duration,
    last_update: Instant,
}

impl Backoff {
    /// When the container `key`, which exited at `finished`, may start again: `None` if now.
    pub fn wait_until(&self, key: &str, finished: Instant, now: Instant) -> Option<Instant> {
        let entry = self.entries.get(key)?;
        if now.duration_since(entry.last_update) > MAX * 2 {
            return None;
        }
        let until = finished + entry.delay;
        (now < until).then_some(until)
    }

    /// The current delay of `key` (for the CrashLoopBackOff message).
    pub fn delay(&self, key: &str) -> Duration {
        self.entries.get(key).map_or(INITIAL, |e| e.delay)
    }

    /// Records a restart of `key` now: the next wait doubles (or starts at 10 s).
    pub fn next(&mut self, key: &str, now: Instant) {
        let entry = self.entries.entry(key.into()).or_insert(Entry {
            delay: Duration::ZERO,
            last_update: now,
        });
        entry.delay = if entry.delay.is_zero() || now.duration_since(entry.last_update) > MAX * 2 {
            INITIAL
        } else {
            (entry.delay * 2).min(MAX)
        };
        entry.last_update = now;
    }
}

/// `10s`, `1m20s`, `5m0s`, as Go prints a duration in the kubelet's messages.
pub fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_restart_is_immediate_then_waits_double() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        assert_eq!(b.wait_until("c", t0, t0), None);
        b.next("c", t0);
        assert_eq!(b.wait_until("c", t0, t0), Some(t0 + INITIAL));
        b.next("c", t0 + INITIAL);
        assert_eq!(b.delay("c"), Duration::from_secs(20));
        for _ in 0..10 {
            b.next("c", t0 + INITIAL);
        }
        assert_eq!(b.delay("c"), MAX);
    }

    #[test]
    fn ten_minutes_without_a_restart_start_the_back_off_again() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        b.next("c", t0);
        b.next("c", t0);
        let later = t0 + Duration::from_secs(601);
        assert_eq!(b.wait_until("c", later, later), None);
        b.next("c", later);
        assert_eq!(b.delay("c"), INITIAL);
    }

    #[test]
    fn durations_print_as_go_does() {
        assert_eq!(go_duration(Duration::from_secs(10)), "10s");
        assert_eq!(go_duration(Duration::from_secs(80)), "1m20s");
        assert_eq!(go_duration(Duration::from_secs(300)), "5m0s");
    }
}
