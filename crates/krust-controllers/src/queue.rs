//! A work queue keyed by name, as client-go's workqueue: a key waiting is queued once, a key
//! is never processed by two workers at once (a key added while it is processed runs again
//! afterwards), and failures are retried with exponential backoff.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// The first retry delay after a failure; doubled per failure up to [`MAX_BACKOFF`].
const BASE_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What a worker tells the queue about a key it processed.
pub type Outcome = anyhow::Result<Option<Duration>>;

struct State<K> {
    waiting: VecDeque<K>,
    queued: HashSet<K>,
    active: HashSet<K>,
    again: HashSet<K>,
    failures: HashMap<K, u32>,
}

/// A deduplicating queue of keys. Cheap to share (`Arc`).
pub struct WorkQueue<K> {
    state: Mutex<State<K>>,
    notify: Notify,
}

impl<K: Clone + Eq + Hash + Send + Sync + std::fmt::Debug + 'static> WorkQueue<K> {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                waiting: VecDeque::new(),
                queued: HashSet::new(),
                active: HashSet::new(),
                again: HashSet::new(),
                failures: HashMap::new(),
            }),
            notify: Notify::new(),
        })
    }

    /// Queues `key` unless it is already waiting.
    pub fn add(&self, key: K) {
        {
            let mut s = self.state.lock().expect("queue lock");
            if s.queued.contains(&key) {
                return;
            }
            if s.active.contains(&key) {
                s.again.insert(key);
                return;
            }
            s.queued.insert(key.clone());
            s.waiting.push_back(key);
        }
        self.notify.notify_one();
    }

    /// Queues `key` after `delay`.
    pub fn add_after(self: &Arc<Self>, key: K, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        let queue = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Some(q) = queue.upgrade() {
                q.add(key);
            }
        });
    }

    async fn next(&self) -> K {
        loop {
            let notified = self.notify.notified();
            {
                let mut s = self.state.lock().expect("queue lock");
                if let Some(key) = s.waiting.pop_front() {
                    s.queued.remove(&key);
                    s.active.insert(key.clone());
                    let more = !s.waiting.is_empty();
                    drop(s);
                    if more {
                        self.notify.notify_one();
                    }
                    return key;
                }
            }
            notified.await;
        }
    }

    fn done(self: &Arc<Self>, key: K, outcome: Outcome) {
        let retry = {
            let mut s = self.state.lock().expect("queue lock");
            s.active.remove(&key);
            let retry = match &outcome {
                Ok(after) => {
                    s.failures.remove(&key);
                    *after
                }
                Err(e) => {
                    let n = s.failures.entry(key.clone()).or_insert(0);
                    *n += 1;
                    let delay = BASE_BACKOFF
                        .saturating_mul(1 << (*n - 1).min(16))
                        .min(MAX_BACKOFF);
                    tracing::debug!(?key, error = %e, ?delay, "retrying");
                    Some(delay)
                }
            };
            if s.again.remove(&key) {
                drop(s);
                self.add(key.clone());
            }
            retry
        };
        if let Some(delay) = retry {
            self.add_after(key, delay);
        }
    }

    /// Processes keys with `workers` concurrent workers, forever.
    pub async fn run<F, Fut>(self: Arc<Self>, workers: usize, work: F)
    where
        F: Fn(K) -> Fut + Send + Sync,
        Fut: Future<Output = Outcome> + Send,
    {
        let work = &work;
        let this = &self;
        let loops = (0..workers.max(1)).map(|_| async move {
            loop {
                let key = this.next().await;
                let outcome = work(key.clone()).await;
                this.done(key, outcome);
            }
        });
        futures::future::join_all(loops).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn keys_are_deduplicated_and_retried() {
        let q = WorkQueue::<String>::new();
        q.add("a".into());
        q.add("a".into());
        q.add("b".into());
        let calls = Arc::new(AtomicUsize::new(0));
        let failed_once = Arc::new(AtomicUsize::new(0));
        let (c, f) = (calls.clone(), failed_once.clone());
        let runner = tokio::spawn(q.clone().run(2, move |key: String| {
            let (c, f) = (c.clone(), f.clone());
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                if key == "b" && f.fetch_add(1, Ordering::SeqCst) == 0 {
                    anyhow::bail!("first try fails");
                }
                Ok(None)
            }
        }));
        tokio::time::sleep(Duration::from_millis(300)).await;
        runner.abort();
        // a once, b twice (one failure, one retry).
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
