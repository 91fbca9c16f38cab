//! The in-memory side of the store: the current keys, the watch window and the watchers.
//!
//! Reads (get, list, watch registration) never touch SQLite: they are answered from here.
//! Only the writer thread changes keys, and only after its batch is durable.

use std::collections::BTreeMap;
use std::iter::Peekable;
use std::ops::Bound;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::mpsc;

use crate::window::Window;
use crate::{
    Error, Event, EventType, KeyValue, ListOptions, ListResult, Result, Revision, WatchStream,
};

/// The state, behind the lock shared by the store handle and the writer thread.
#[derive(Debug)]
pub(crate) struct Shared(RwLock<State>);

impl Shared {
    pub(crate) fn new(state: State) -> Self {
        Self(RwLock::new(state))
    }

    /// Locks for reading. A panic elsewhere never leaves the state half-updated in a way
    /// readers could observe, so poisoning is ignored.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, State> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks for writing (publishing a batch, registering a watcher, compacting).
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One registered watcher.
#[derive(Debug)]
struct Watcher {
    prefix: String,
    /// Only events with a greater revision are sent (a watch may start in the future).
    after: Revision,
    tx: mpsc::Sender<Event>,
}

impl Watcher {
    /// Offers one event; returns whether the watcher stays registered.
    fn offer(&self, event: &Event) -> bool {
        if self.tx.is_closed() {
            return false;
        }
        if event.kv.mod_revision <= self.after || !event.kv.key.starts_with(&self.prefix) {
            return true;
        }
        match self.tx.try_send(event.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(prefix = %self.prefix, "dropping a watcher that fell behind");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// The current keys, the latest revision, the recent events and who watches them.
#[derive(Debug)]
pub(crate) struct State {
    kvs: BTreeMap<String, KeyValue>,
    revision: Revision,
    window: Window,
    watchers: Vec<Watcher>,
    watch_buffer: usize,
}

impl State {
    /// The state loaded at open: an empty window starting after `revision`.
    pub(crate) fn new(
        kvs: BTreeMap<String, KeyValue>,
        revision: Revision,
        window_size: usize,
        watch_buffer: usize,
    ) -> Self {
        Self {
            kvs,
            revision,
            window: Window::new(revision, window_size),
            watchers: Vec::new(),
            watch_buffer: watch_buffer.max(1),
        }
    }

    /// The latest published revision.
    pub(crate) fn revision(&self) -> Revision {
        self.revision
    }

    /// The oldest revision still in the watch window.
    pub(crate) fn oldest(&self) -> Revision {
        self.window.oldest()
    }

    /// The current value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&KeyValue> {
        self.kvs.get(key)
    }

    /// One page of the keys under `prefix`, at the latest or a past revision.
    pub(crate) fn list(&self, prefix: &str, opts: &ListOptions) -> Result<ListResult> {
        let at = opts.revision.unwrap_or(self.revision);
        if at > self.revision {
            return Err(Error::FutureRevision {
                requested: at,
                current: self.revision,
            });
        }
        if !self.window.covers(at) {
            return Err(Error::Compacted {
                requested: at,
                oldest: self.window.oldest(),
            });
        }
        let lower = match opts.start_after.as_deref() {
            Some(after) if after >= prefix => Bound::Excluded(after),
            _ => Bound::Included(prefix),
        };
        let current = self
            .kvs
            .range::<str, _>((lower, Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix));
        let (items, remaining) = if at == self.revision {
            page(current.map(|(_, kv)| kv), opts.limit)
        } else {
            let undone = self.window.undo(prefix, at);
            let unchanged = current
                .filter(|(key, _)| !undone.contains_key(key.as_str()))
                .map(|(_, kv)| kv);
            let restored = undone
                .range::<str, _>((lower, Bound::Unbounded))
                .filter_map(|(_, kv)| kv.as_ref());
            page(merge(unchanged, restored), opts.limit)
        };
        Ok(ListResult {
            items,
            revision: at,
            remaining,
        })
    }

    /// Registers a watcher of `prefix` and replays the window's events after `after`.
    ///
    /// Called under the write lock, like [`State::publish`], so no event is missed or sent
    /// twice between the replay and the live events.
    pub(crate) fn watch(&mut self, prefix: &str, after: Revision) -> Result<WatchStream> {
        if !self.window.covers(after) {
            return Err(Error::Compacted {
                requested: after,
                oldest: self.window.oldest(),
            });
        }
        let replay: Vec<&Event> = self
            .window
            .after(after)
            .filter(|event| event.kv.key.starts_with(prefix))
            .collect();
        let (tx, rx) = mpsc::channel(self.watch_buffer + replay.len());
        for event in replay {
            if tx.try_send(event.clone()).is_err() {
                return Err(Error::Backend("watch replay overflowed its channel".into()));
            }
        }
        self.watchers.push(Watcher {
            prefix: prefix.to_owned(),
            after,
            tx,
        });
        Ok(rx)
    }

    /// Forgets the window's events older than `revision`.
    pub(crate) fn compact(&mut self, revision: Revision) -> Result<()> {
        if revision > self.revision + 1 {
            return Err(Error::FutureRevision {
                requested: revision,
                current: self.revision,
            });
        }
        self.window.compact(revision);
        Ok(())
    }

    /// Applies a durable batch of events, in revision order, and hands them to watchers.
    pub(crate) fn publish(&mut self, events: Vec<Event>) {
        for event in events {
            match event.kind {
                EventType::Deleted => {
                    self.kvs.remove(&event.kv.key);
                }
                EventType::Created | EventType::Modified => {
                    self.kvs.insert(event.kv.key.clone(), event.kv.clone());
                }
            }
            self.revision = event.kv.mod_revision;
            self.watchers.retain(|watcher| watcher.offer(&event));
            self.window.push(event);
        }
    }

    /// Closes every watch stream (the store is shutting down).
    pub(crate) fn close_watchers(&mut self) {
        self.watchers.clear();
    }
}

/// Takes at most `limit` items (all when `0`) and counts the rest.
fn page<'a>(mut items: impl Iterator<Item = &'a KeyValue>, limit: usize) -> (Vec<KeyValue>, usize) {
    let limit = if limit == 0 { usize::MAX } else { limit };
    let page = items.by_ref().take(limit).cloned().collect();
    (page, items.count())
}

/// Merges two key-ordered iterators over disjoint keys.
fn merge<'a>(
    left: impl Iterator<Item = &'a KeyValue>,
    right: impl Iterator<Item = &'a KeyValue>,
) -> impl Iterator<Item = &'a KeyValue> {
    struct Merge<L: Iterator, R: Iterator>(Peekable<L>, Peekable<R>);
    impl<'a, L, R> Iterator for Merge<L, R>
    where
        L: Iterator<Item = &'a KeyValue>,
        R: Iterator<Item = &'a KeyValue>,
    {
        type Item = &'a KeyValue;
        fn next(&mut self) -> Option<&'a KeyValue> {
            match (self.0.peek(), self.1.peek()) {
                (Some(l), Some(r)) if r.key < l.key => self.1.next(),
                (Some(_), _) => self.0.next(),
                (None, _) => self.1.next(),
            }
        }
    }
    Merge(left.peekable(), right.peekable())
}
