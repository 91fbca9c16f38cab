//! The watch window: the most recent events, in revision order, with their previous values.
//!
//! The window always covers a contiguous run of revisions `[oldest, oldest + len)`, ending at
//! the store's current revision: every committed write is exactly one event, so there are no
//! holes. It answers watches that resume from a recent revision and lists at a past revision
//! (by undoing the events newer than the one asked for).

use std::collections::{BTreeMap, VecDeque};

use crate::{Event, EventType, KeyValue, Revision};

/// A bounded ring of the most recent events.
#[derive(Debug)]
pub(crate) struct Window {
    events: VecDeque<Event>,
    /// The revision of `events[0]`, or `current + 1` when the window is empty.
    oldest: Revision,
    capacity: usize,
}

impl Window {
    /// An empty window whose next event will carry revision `current + 1`.
    pub(crate) fn new(current: Revision, capacity: usize) -> Self {
        Self {
            events: VecDeque::new(),
            oldest: current + 1,
            capacity: capacity.max(1),
        }
    }

    /// The oldest revision still held (`current + 1` when empty).
    pub(crate) fn oldest(&self) -> Revision {
        self.oldest
    }

    /// Appends the event of the next revision, evicting the oldest one past capacity.
    pub(crate) fn push(&mut self, event: Event) {
        debug_assert_eq!(
            event.kv.mod_revision,
            self.oldest + self.events.len() as i64
        );
        self.events.push_back(event);
        if self.events.len() > self.capacity {
            self.events.pop_front();
            self.oldest += 1;
        }
    }

    /// Forgets the events with a revision older than `revision`.
    pub(crate) fn compact(&mut self, revision: Revision) {
        while self.oldest < revision && self.events.pop_front().is_some() {
            self.oldest += 1;
        }
    }

    /// Whether the state at `revision` can be rebuilt, or events after it replayed.
    pub(crate) fn covers(&self, revision: Revision) -> bool {
        revision >= self.oldest - 1
    }

    /// The events with a revision greater than `after`, oldest first.
    pub(crate) fn after(&self, after: Revision) -> impl DoubleEndedIterator<Item = &Event> {
        let skip = usize::try_from(after + 1 - self.oldest).unwrap_or(0);
        self.events.iter().skip(skip)
    }

    /// For every key under `prefix` changed after `revision`, its value at `revision`
    /// (`None` if it did not exist then). The caller checks `covers(revision)` first.
    pub(crate) fn undo(
        &self,
        prefix: &str,
        revision: Revision,
    ) -> BTreeMap<String, Option<KeyValue>> {
        let mut before = BTreeMap::new();
        // Newest first, so that the earliest change after `revision` has the last word.
        for event in self.after(revision).rev() {
            if !event.kv.key.starts_with(prefix) {
                continue;
            }
            let value = match event.kind {
                EventType::Created => None,
                EventType::Modified | EventType::Deleted => event.prev.clone(),
            };
            before.insert(event.kv.key.clone(), value);
        }
        before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created(key: &str, rev: Revision) -> Event {
        let kv = KeyValue {
            key: key.to_owned(),
            value: bytes::Bytes::from(format!("v{rev}")),
            create_revision: rev,
            mod_revision: rev,
        };
        Event {
            kind: EventType::Created,
            kv,
            prev: None,
        }
    }

    #[test]
    fn evicts_past_capacity_and_compacts() {
        let mut window = Window::new(10, 3);
        assert_eq!(window.oldest(), 11);
        assert!(window.covers(10));
        assert!(!window.covers(9));
        for rev in 11..=15 {
            window.push(created(&format!("/k{rev}"), rev));
        }
        assert_eq!(window.oldest(), 13);
        let revs: Vec<_> = window.after(13).map(|e| e.kv.mod_revision).collect();
        assert_eq!(revs, [14, 15]);
        window.compact(15);
        assert_eq!(window.oldest(), 15);
        window.compact(100);
        assert_eq!(window.oldest(), 16);
        assert_eq!(window.after(0).count(), 0);
    }

    #[test]
    fn undo_yields_the_value_before_the_first_change() {
        let mut window = Window::new(0, 10);
        window.push(created("/a", 1));
        let mut modified = created("/a", 2);
        modified.kind = EventType::Modified;
        modified.kv.create_revision = 1;
        modified.prev = Some(created("/a", 1).kv);
        window.push(modified);
        window.push(created("/b", 3));
        let at1 = window.undo("/", 1);
        assert_eq!(at1["/a"].as_ref().map(|kv| kv.mod_revision), Some(1));
        assert_eq!(at1["/b"], None);
        let at0 = window.undo("/", 0);
        assert_eq!(at0["/a"], None);
    }
}
