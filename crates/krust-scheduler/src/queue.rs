//! The scheduling queue (`PriorityQueue`): an active heap (priority, then first in first
//! out), a backoff heap (1 s doubling up to 10 s per failed attempt) and the unschedulable
//! pods, which wait for a cluster event that may help them (or 60 s) before another try.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::podinfo::PodInfo;

pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How long an unschedulable pod waits for a helpful event before it is retried anyway.
pub const MAX_UNSCHEDULABLE: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    Active,
    Backoff,
    Unschedulable,
    /// Has scheduling gates: waits for an update that removes them.
    Gated,
    /// Popped: being scheduled or bound.
    InFlight,
}

struct Queued {
    info: Arc<PodInfo>,
    attempts: u32,
    location: Location,
    /// Bumped on every move, so that stale heap entries are skipped.
    generation: u64,
    unschedulable_since: Instant,
    backoff_until: Instant,
    /// The plugins that rejected the pod last time (bits of `filters::Plugin`).
    plugins: u32,
}

struct ActiveItem {
    priority: i32,
    seq: u64,
    key: String,
    generation: u64,
}

impl Ord for ActiveItem {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for ActiveItem {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for ActiveItem {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for ActiveItem {}

#[derive(Default)]
pub struct Queue {
    pods: HashMap<String, Queued>,
    active: BinaryHeap<ActiveItem>,
    backoff: BinaryHeap<Reverse<(Instant, u64, String)>>,
    unschedulable: HashSet<String>,
    seq: u64,
}

/// `calculateBackoffDuration`: 1 s after the first attempt, doubling, at most 10 s.
pub fn backoff_duration(attempts: u32) -> Duration {
    let mut d = INITIAL_BACKOFF;
    for _ in 1..attempts {
        d *= 2;
        if d >= MAX_BACKOFF {
            return MAX_BACKOFF;
        }
    }
    d
}

impl Queue {
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }

    pub fn location(&self, key: &str) -> Option<Location> {
        self.pods.get(key).map(|q| q.location)
    }

    /// Whether the queue holds this very pod (not another one of the same name).
    pub fn holds(&self, key: &str, uid: &str) -> bool {
        self.pods.get(key).is_some_and(|q| q.info.uid == uid)
    }

    pub fn keys(&self) -> Vec<String> {
        self.pods.keys().cloned().collect()
    }

    fn push_active(&mut self, key: &str) {
        let Some(q) = self.pods.get_mut(key) else {
            return;
        };
        self.unschedulable.remove(key);
        q.location = Location::Active;
        q.generation += 1;
        self.seq += 1;
        self.active.push(ActiveItem {
            priority: q.info.priority,
            seq: self.seq,
            key: key.to_string(),
            generation: q.generation,
        });
    }

    fn push_backoff(&mut self, key: &str) {
        let Some(q) = self.pods.get_mut(key) else {
            return;
        };
        self.unschedulable.remove(key);
        q.location = Location::Backoff;
        q.generation += 1;
        self.backoff
            .push(Reverse((q.backoff_until, q.generation, key.to_string())));
    }

    /// Back to active, or to backoff if its backoff has not expired yet.
    fn requeue(&mut self, key: &str, now: Instant) {
        match self.pods.get(key) {
            Some(q) if q.backoff_until > now => self.push_backoff(key),
            Some(_) => self.push_active(key),
            None => {}
        }
    }

    /// A new or updated unassigned pod.
    pub fn add(&mut self, info: Arc<PodInfo>, now: Instant) {
        let key = info.key.clone();
        let Some(q) = self.pods.get_mut(&key) else {
            let gated = info.gated;
            self.pods.insert(
                key.clone(),
                Queued {
                    info,
                    attempts: 0,
                    location: Location::Gated,
                    generation: 0,
                    unschedulable_since: now,
                    backoff_until: now,
                    plugins: 0,
                },
            );
            if !gated {
                self.push_active(&key);
            }
            return;
        };
        let changed = q.info.scheduling_changed(&info);
        let priority_changed = q.info.priority != info.priority;
        q.info = info;
        match q.location {
            Location::Gated if !q.info.gated => self.push_active(&key),
            Location::Unschedulable if changed => self.requeue(&key, now),
            Location::Active if priority_changed => self.push_active(&key),
            _ => {}
        }
    }

    pub fn remove(&mut self, key: &str) {
        self.pods.remove(key);
        self.unschedulable.remove(key);
    }

    /// The next pod to schedule; it stays known to the queue (in flight) until `done`,
    /// `unschedulable` or `backoff`.
    pub fn pop(&mut self) -> Option<Arc<PodInfo>> {
        while let Some(item) = self.active.pop() {
            let Some(q) = self.pods.get_mut(&item.key) else {
                continue;
            };
            if q.location != Location::Active || q.generation != item.generation {
                continue;
            }
            q.location = Location::InFlight;
            q.attempts += 1;
            return Some(q.info.clone());
        }
        None
    }

    /// The pod is bound: forget it.
    pub fn done(&mut self, key: &str) {
        if self.location(key) == Some(Location::InFlight) {
            self.remove(key);
        }
    }

    /// The pod fits no node: park it until an event that `plugins` care about.
    pub fn unschedulable(&mut self, key: &str, plugins: u32, now: Instant) {
        let Some(q) = self.pods.get_mut(key) else {
            return;
        };
        if q.location != Location::InFlight {
            return;
        }
        q.backoff_until = now + backoff_duration(q.attempts);
        q.unschedulable_since = now;
        q.plugins = plugins;
        q.generation += 1;
        if q.info.gated {
            q.location = Location::Gated;
            return;
        }
        q.location = Location::Unschedulable;
        self.unschedulable.insert(key.to_string());
    }

    /// The attempt failed for another reason (binding, API error): retry after a backoff.
    pub fn backoff(&mut self, key: &str, now: Instant) {
        let Some(q) = self.pods.get_mut(key) else {
            return;
        };
        if q.location != Location::InFlight {
            return;
        }
        q.backoff_until = now + backoff_duration(q.attempts);
        self.push_backoff(key);
    }

    /// A cluster event: retries the unschedulable pods rejected by one of `plugins`
    /// (all of them for `u32::MAX`).
    pub fn move_unschedulable(&mut self, plugins: u32, now: Instant) -> usize {
        let keys: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|k| {
                self.pods
                    .get(*k)
                    .is_some_and(|q| q.plugins == 0 || q.plugins & plugins != 0)
            })
            .cloned()
            .collect();
        for k in &keys {
            self.requeue(k, now);
        }
        keys.len()
    }

    /// Moves expired backoffs to active.
    pub fn flush_backoff(&mut self, now: Instant) {
        while let Some(Reverse((at, generation, _))) = self.backoff.peek() {
            if *at > now {
                break;
            }
            let generation = *generation;
            let Some(Reverse((_, _, key))) = self.backoff.pop() else {
                break;
            };
            if self
                .pods
                .get(&key)
                .is_some_and(|q| q.location == Location::Backoff && q.generation == generation)
            {
                self.push_active(&key);
            }
        }
    }

    /// Retries pods unschedulable for longer than `MAX_UNSCHEDULABLE`.
    pub fn flush_unschedulable(&mut self, now: Instant) {
        let keys: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|k| {
                self.pods
                    .get(*k)
                    .is_some_and(|q| now.duration_since(q.unschedulable_since) >= MAX_UNSCHEDULABLE)
            })
            .cloned()
            .collect();
        for k in &keys {
            self.requeue(k, now);
        }
    }

    /// When the earliest backoff expires.
    pub fn next_backoff(&self) -> Option<Instant> {
        self.backoff.peek().map(|Reverse((at, _, _))| *at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{info, pod};

    fn p(name: &str, priority: i32) -> Arc<PodInfo> {
        let mut i = info(&pod(name, "", ""));
        i.priority = priority;
        Arc::new(i)
    }

    #[test]
    fn priority_then_fifo() {
        let now = Instant::now();
        let mut q = Queue::default();
        q.add(p("a", 0), now);
        q.add(p("b", 10), now);
        q.add(p("c", 0), now);
        let order: Vec<String> = std::iter::from_fn(|| q.pop().map(|i| i.name.clone())).collect();
        assert_eq!(order, ["b", "a", "c"]);
        assert_eq!(q.location("default/a"), Some(Location::InFlight));
    }

    #[test]
    fn backoff_doubles_up_to_ten_seconds() {
        let secs: Vec<u64> = (1..=6).map(|a| backoff_duration(a).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn unschedulable_pods_wait_for_a_matching_event_and_their_backoff() {
        let now = Instant::now();
        let mut q = Queue::default();
        q.add(p("a", 0), now);
        q.pop().unwrap();
        q.unschedulable("default/a", 0b10, now);
        assert_eq!(q.move_unschedulable(0b01, now), 0);
        assert!(q.pop().is_none());
        // A matching event within the backoff: to the backoff heap, then active once it expires.
        assert_eq!(q.move_unschedulable(0b10, now), 1);
        assert_eq!(q.location("default/a"), Some(Location::Backoff));
        q.flush_backoff(now);
        assert!(q.pop().is_none());
        q.flush_backoff(now + Duration::from_secs(1));
        assert_eq!(q.pop().unwrap().name, "a");
        // Without events, after MAX_UNSCHEDULABLE.
        q.unschedulable("default/a", 0b10, now);
        q.flush_unschedulable(now + Duration::from_secs(30));
        assert_eq!(q.location("default/a"), Some(Location::Unschedulable));
        q.flush_unschedulable(now + MAX_UNSCHEDULABLE);
        assert_eq!(q.pop().unwrap().name, "a");
    }

    #[test]
    fn updates_that_matter_requeue_and_status_updates_do_not() {
        let now = Instant::now();
        let mut q = Queue::default();
        q.add(p("a", 0), now);
        q.pop().unwrap();
        q.unschedulable("default/a", 0b1, now);
        let mut same = (*p("a", 0)).clone();
        same.scheduled_condition = Some(("False".into(), "Unschedulable".into(), "m".into()));
        q.add(Arc::new(same), now + Duration::from_secs(5));
        assert_eq!(q.location("default/a"), Some(Location::Unschedulable));
        let mut relabeled = (*p("a", 0)).clone();
        relabeled.labels.insert("x".into(), "y".into());
        q.add(Arc::new(relabeled), now + Duration::from_secs(5));
        assert_eq!(q.pop().unwrap().labels["x"], "y");
    }

    #[test]
    fn gated_pods_wait_for_their_gates_to_go() {
        let now = Instant::now();
        let mut q = Queue::default();
        let mut gated = (*p("a", 0)).clone();
        gated.gated = true;
        q.add(Arc::new(gated), now);
        assert!(q.pop().is_none());
        q.add(p("a", 0), now);
        assert_eq!(q.pop().unwrap().name, "a");
        q.done("default/a");
        assert!(q.is_empty());
    }
}
