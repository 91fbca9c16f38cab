//! The writer thread: group commit.
//!
//! One thread owns the write connection. It takes every request waiting on its channel
//! (up to a batch limit), checks each precondition against the published state plus the
//! batch's own earlier writes, gives the writes that pass consecutive revisions in arrival
//! order, commits them in one transaction (one fsync), then publishes them to the in-memory
//! state and the watchers, and only then answers the callers. While it waits on the disk,
//! new requests pile up and go into the next batch, so throughput grows with concurrency;
//! when it finds at least [`COMMIT_SIBLINGS`] waiting, it also waits up to `commit_delay`
//! for more.

use std::collections::HashMap;
use std::fs::File;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::ops::Op;
use crate::state::{Shared, State};
use crate::{Error, Event, KeyValue, Result};

/// How many writes a batch must have found waiting before it waits `commit_delay` for more
/// (PostgreSQL's `commit_siblings`): a few writes that meet by chance (a pod's status and
/// its Event, a binding and its `Scheduled` Event) commit at once; a load that keeps
/// more waiting shares its fsyncs.
pub(crate) const COMMIT_SIBLINGS: usize = 4;

/// A write and where to send its outcome.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) op: Op,
    pub(crate) reply: oneshot::Sender<Result<KeyValue>>,
}

/// The writer thread's belongings.
pub(crate) struct Writer {
    pub(crate) conn: Connection,
    pub(crate) shared: Arc<Shared>,
    pub(crate) requests: Receiver<Request>,
    pub(crate) max_batch: usize,
    /// How long a batch of [`COMMIT_SIBLINGS`] writes or more waits for more
    /// (`SqliteOptions::commit_delay`).
    pub(crate) commit_delay: Duration,
    /// Held (with its exclusive lock) until the thread ends, after the connection closes.
    pub(crate) _lock: File,
}

impl Writer {
    /// Serves batches until every request sender is gone, then closes the watch streams.
    pub(crate) fn run(mut self) {
        let _close = CloseWatchers(self.shared.clone());
        while let Ok(first) = self.requests.recv() {
            let mut batch = vec![first];
            while batch.len() < self.max_batch {
                match self.requests.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
            if batch.len() >= COMMIT_SIBLINGS {
                // Under load: more writes are on their way; let one fsync serve them too.
                let until = Instant::now() + self.commit_delay;
                while batch.len() < self.max_batch {
                    let left = until.saturating_duration_since(Instant::now());
                    match self.requests.recv_timeout(left) {
                        Ok(request) => batch.push(request),
                        Err(_) => break,
                    }
                }
            }
            self.commit(batch);
        }
    }

    /// Commits one batch and answers its callers.
    fn commit(&mut self, batch: Vec<Request>) {
        let (ops, replies): (Vec<Op>, Vec<_>) = batch.into_iter().map(|r| (r.op, r.reply)).unzip();
        let (mut outcomes, events) = plan(&self.shared.read(), &ops);
        if let Err(err) = crate::db::persist(&mut self.conn, &events) {
            tracing::error!(%err, writes = events.len(), "store commit failed");
            for outcome in outcomes.iter_mut().filter(|outcome| outcome.is_ok()) {
                *outcome = Err(Error::Backend(err.to_string()));
            }
        } else if !events.is_empty() {
            tracing::trace!(
                writes = events.len(),
                requests = ops.len(),
                "store batch committed"
            );
            self.shared.write().publish(events);
        }
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            // The caller may have gone away; the write stands regardless.
            let _ = reply.send(outcome);
        }
    }
}

/// Closes every watch stream when the writer stops, even by a panic: no more events come.
struct CloseWatchers(Arc<Shared>);

impl Drop for CloseWatchers {
    fn drop(&mut self) {
        self.0.write().close_watchers();
    }
}

/// Decides the outcome of every operation of a batch, in order, and the events of those
/// that succeed. Failed preconditions take no revision.
fn plan(state: &State, ops: &[Op]) -> (Vec<Result<KeyValue>>, Vec<Event>) {
    let mut written: HashMap<&str, Option<KeyValue>> = HashMap::new();
    let mut outcomes = Vec::with_capacity(ops.len());
    let mut events = Vec::with_capacity(ops.len());
    let mut next = state.revision() + 1;
    for op in ops {
        let current = match written.get(op.key()) {
            Some(value) => value.as_ref(),
            None => state.get(op.key()),
        };
        match op.apply(current, next) {
            Ok(event) => {
                let after = match event.kind {
                    crate::EventType::Deleted => None,
                    _ => Some(event.kv.clone()),
                };
                written.insert(op.key(), after);
                outcomes.push(Ok(event.kv.clone()));
                events.push(event);
                next += 1;
            }
            Err(err) => outcomes.push(Err(err)),
        }
    }
    (outcomes, events)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use bytes::Bytes;

    use super::*;

    #[test]
    fn batch_sees_its_own_writes_and_failures_take_no_revision() {
        let state = State::new(BTreeMap::new(), 7, 10, 10);
        let create = |key: &str| Op::Create {
            key: key.into(),
            value: Bytes::from_static(b"v"),
        };
        let ops = [
            create("/a"),
            create("/a"),
            Op::Update {
                key: "/a".into(),
                value: Bytes::from_static(b"w"),
                expected: 8,
            },
            Op::Delete {
                key: "/a".into(),
                expected: Some(8),
            },
            Op::Delete {
                key: "/a".into(),
                expected: Some(9),
            },
            create("/a"),
        ];
        let (outcomes, events) = plan(&state, &ops);
        let revs: Vec<_> = events.iter().map(|e| e.kv.mod_revision).collect();
        assert_eq!(revs, [8, 9, 10, 11]);
        assert!(matches!(outcomes[1], Err(Error::AlreadyExists(_))));
        assert!(matches!(
            outcomes[3],
            Err(Error::Conflict { current: 9, .. })
        ));
        assert_eq!(outcomes[5].as_ref().unwrap().create_revision, 11);
    }
}
