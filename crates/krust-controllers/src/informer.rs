//! Informers and work queues, as client-go's: how every controller of this crate learns of
//! changes and turns them into work.
//!
//! - [`reflect`] starts a watch that keeps a reflector [`Store`] of a kind current and yields
//!   every change once the store holds it. [`synced`] waits for the first list of stores.
//! - [`for_each_change`] hands each changed object (and each relist) to a handler, which maps
//!   it to keys of a [`WorkQueue`]: a waiting key is queued once, a key is never processed by
//!   two workers at once, failures are retried with exponential backoff.
//! - [`Cache`] (the ReplicaSet and Deployment controllers) adds an index of the store by
//!   controller (`ownerReferences[controller=true].uid`), so that a sync finds the pods of a
//!   ReplicaSet or the ReplicaSets of a Deployment without listing, and hands its handler
//!   [`Change`]s that tell the controller an object had before. Those controllers queue
//!   `ObjectRef`s for kube-runtime's `applier` ([`reconcile_objects`]): there, a wake-up brings
//!   forward a requeue asked for later instead of adding a run.

use crate::informers::Informers;
use futures::channel::mpsc;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::runtime::WatchStreamExt;
use kube::runtime::controller::{Action, Config, applier};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::fmt::Debug;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// The changes a watch applied to its store, in order.
pub type Events<K> = BoxStream<'static, Event<K>>;

/// `(namespace, name)`: the key most controllers queue.
pub type Key = (String, String);

/// The [`Key`] of an object.
pub fn key_of<K: Resource>(obj: &K) -> Key {
    (obj.namespace().unwrap_or_default(), obj.name_any())
}

/// Starts (lazily: nothing happens until the events are polled) a watch of `api` that keeps
/// the returned `Store` up to date, and returns the store with the events, each already
/// applied to the store when it comes out. Watch errors are logged and retried with backoff.
/// `managedFields` are dropped: no controller reads them.
pub fn reflect<K>(api: Api<K>, config: watcher::Config) -> (Store<K>, Events<K>)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, config)
        .default_backoff()
        .modify(|o: &mut K| o.meta_mut().managed_fields = None)
        .reflect(writer);
    let kind = K::kind(&K::DynamicType::default()).to_string();
    (reader, log_errors(kind, stream).boxed())
}

/// A store whose first list can be waited for: a [`Store`] or a [`Cache`].
pub trait Synced: Sync {
    /// Waits until the first full list has been taken in.
    fn wait_synced(&self) -> BoxFuture<'_, ()>;
}

impl<K> Synced for Store<K>
where
    K: Resource + Clone + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Send + Sync,
{
    fn wait_synced(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {
            listed(self).await;
        })
    }
}

/// Waits until `store` has taken in its first list; false if its watch ended before.
///
/// kube's `Store::wait_until_ready` wakes only the last of several tasks waiting at once (one
/// oneshot receiver's waker is behind it), and a store may be shared by several controllers
/// ([`crate::informers`]): each waiter polls it again every 10 ms until it resolves.
pub async fn listed<K>(store: &Store<K>) -> bool
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    loop {
        let ready = tokio::time::timeout(Duration::from_millis(10), store.wait_until_ready());
        if let Ok(result) = ready.await {
            return result.is_ok();
        }
    }
}

/// Waits until each of `stores` has taken in its first list (the initial sync).
pub async fn synced(stores: &[&dyn Synced]) {
    for store in stores {
        store.wait_synced().await;
    }
}

/// Drops (after logging, with the `kind` watched) the errors of a watch stream.
pub fn log_errors<K: Send + 'static>(
    kind: String,
    stream: impl Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static,
) -> impl Stream<Item = Event<K>> + Send + 'static {
    stream.filter_map(move |r| {
        let result = r.map_err(|error| tracing::warn!(%kind, %error, "watch failed; retrying"));
        async move { result.ok() }
    })
}

/// Calls `f` for every object an event carries (applied, deleted or relisted), with
/// whether it was deleted. `Init`/`InitDone` call `on_resync` (with `true` once done).
pub async fn for_each_change<K>(
    mut events: Events<K>,
    mut f: impl FnMut(&K, bool),
    mut on_resync: impl FnMut(bool),
) {
    while let Some(event) = events.next().await {
        match &event {
            Event::Apply(o) | Event::InitApply(o) => f(o, false),
            Event::Delete(o) => f(o, true),
            Event::Init => on_resync(false),
            Event::InitDone => on_resync(true),
        }
    }
}

/// The first retry delay after a failure; doubled per failure up to [`MAX_BACKOFF`].
const BASE_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What a worker tells the queue about a key it processed: `Ok(Some(delay))` queues it
/// again after `delay`, an error retries it with backoff.
pub type Outcome = anyhow::Result<Option<Duration>>;

struct QueueState<K> {
    waiting: VecDeque<K>,
    queued: HashSet<K>,
    active: HashSet<K>,
    again: HashSet<K>,
    failures: HashMap<K, u32>,
}

/// A deduplicating queue of keys (client-go's workqueue): a key waiting is queued once, a key
/// is never processed by two workers at once (a key added while it is processed runs again
/// afterwards), and failures are retried with exponential backoff. Cheap to share (`Arc`).
pub struct WorkQueue<K> {
    state: Mutex<QueueState<K>>,
    notify: Notify,
}

impl<K: Clone + Eq + Hash + Send + Sync + Debug + 'static> WorkQueue<K> {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(QueueState {
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

/// The controller reference of an object, if any.
pub fn controller_of<K: Resource>(obj: &K) -> Option<&OwnerReference> {
    obj.meta()
        .owner_references
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|r| r.controller == Some(true))
}

/// A change a [`Cache`] has taken in.
pub enum Change<K> {
    /// Added (`previous` is `None`) or modified (`previous` holds its controller before).
    Applied {
        obj: Arc<K>,
        previous: Option<Option<OwnerReference>>,
    },
    /// Gone; `controller` is the last one known.
    Deleted {
        namespace: String,
        name: String,
        controller: Option<OwnerReference>,
    },
}

#[derive(Default)]
struct Index {
    /// Every object's controller.
    controller: HashMap<Key, Option<OwnerReference>>,
    /// `(namespace, controller uid or "")` → names.
    members: HashMap<Key, BTreeSet<String>>,
}

impl Index {
    fn group(namespace: &str, controller: Option<&OwnerReference>) -> Key {
        let uid = controller.map(|c| c.uid.clone()).unwrap_or_default();
        (namespace.to_string(), uid)
    }

    fn unlink(&mut self, key: &Key, controller: Option<&OwnerReference>) {
        let group = Self::group(&key.0, controller);
        if let Some(set) = self.members.get_mut(&group) {
            set.remove(&key.1);
            if set.is_empty() {
                self.members.remove(&group);
            }
        }
    }

    /// Records the object's controller; returns the previous one (`None` for a new object).
    fn apply(
        &mut self,
        key: Key,
        controller: Option<OwnerReference>,
    ) -> Option<Option<OwnerReference>> {
        let previous = self.controller.insert(key.clone(), controller.clone());
        if let Some(prev) = &previous {
            self.unlink(&key, prev.as_ref());
        }
        self.members
            .entry(Self::group(&key.0, controller.as_ref()))
            .or_default()
            .insert(key.1);
        previous
    }

    fn remove(&mut self, key: &Key) -> Option<Option<OwnerReference>> {
        let previous = self.controller.remove(key);
        if let Some(prev) = &previous {
            self.unlink(key, prev.as_ref());
        }
        previous
    }
}

/// A reflector store of `K` indexed by controller, filled by [`Cache::run`]. Cheap to clone.
#[derive(Clone)]
pub struct Cache<K: Resource<DynamicType = ()> + Clone + 'static> {
    store: Store<K>,
    index: Arc<Mutex<Index>>,
    synced: Arc<watch::Sender<bool>>,
}

impl<K> Cache<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    /// A cache of every `K` (the store `informers` shares), and the events [`Cache::run`]
    /// fills it with.
    pub fn reflect(informers: &Informers) -> (Self, Events<K>) {
        let (store, events) = informers.reflect::<K>();
        let cache = Cache {
            store,
            index: Arc::default(),
            synced: Arc::new(watch::Sender::new(false)),
        };
        (cache, events)
    }

    /// The reflector store (for `kube::runtime::controller::applier`).
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        self.store.get(&ObjectRef::new(name).within(namespace))
    }

    fn members(&self, group: &Key) -> Vec<Arc<K>> {
        let names: Vec<String> = {
            let index = self.index.lock().expect("index lock");
            index
                .members
                .get(group)
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default()
        };
        names.iter().filter_map(|n| self.get(&group.0, n)).collect()
    }

    /// The objects of `namespace` whose controller has `uid`.
    pub fn controlled_by(&self, namespace: &str, uid: &str) -> Vec<Arc<K>> {
        if uid.is_empty() {
            return Vec::new();
        }
        self.members(&(namespace.to_string(), uid.to_string()))
            .into_iter()
            .filter(|o| controller_of(o.as_ref()).is_some_and(|c| c.uid == uid))
            .collect()
    }

    /// The objects of `namespace` without a controller.
    pub fn orphans(&self, namespace: &str) -> Vec<Arc<K>> {
        self.members(&(namespace.to_string(), String::new()))
            .into_iter()
            .filter(|o| controller_of(o.as_ref()).is_none())
            .collect()
    }

    /// Every object of the cache.
    pub fn all(&self) -> Vec<Arc<K>> {
        self.store.state()
    }

    /// Takes in `events` (from [`Cache::reflect`]) for ever, keeping the index current and
    /// calling `on_change` for each change once the cache holds it. After a (re)list it
    /// reports every object, and the deletion of those gone meanwhile.
    pub async fn run(&self, mut events: Events<K>, mut on_change: impl FnMut(Change<K>)) {
        while let Some(event) = events.next().await {
            match event {
                Event::Apply(obj) => {
                    let previous = self
                        .index
                        .lock()
                        .expect("index lock")
                        .apply(key_of(&obj), controller_of(&obj).cloned());
                    on_change(Change::Applied {
                        obj: Arc::new(obj),
                        previous,
                    });
                }
                Event::Delete(obj) => {
                    let key = key_of(&obj);
                    let last = self.index.lock().expect("index lock").remove(&key);
                    let controller = controller_of(&obj).cloned().or(last.flatten());
                    on_change(Change::Deleted {
                        namespace: key.0,
                        name: key.1,
                        controller,
                    });
                }
                Event::Init | Event::InitApply(_) => {}
                Event::InitDone => {
                    self.relisted().into_iter().for_each(&mut on_change);
                    self.synced.send_replace(true);
                }
            }
        }
    }

    /// Brings the index in line with the store after a relist; returns every object as
    /// applied and every object gone as deleted (anything may have changed meanwhile).
    fn relisted(&self) -> Vec<Change<K>> {
        let objects = self.store.state();
        let mut changes = Vec::with_capacity(objects.len());
        let mut index = self.index.lock().expect("index lock");
        let present: HashSet<Key> = objects.iter().map(|o| key_of(o.as_ref())).collect();
        let gone: Vec<Key> = index
            .controller
            .keys()
            .filter(|k| !present.contains(*k))
            .cloned()
            .collect();
        for key in gone {
            let controller = index.remove(&key).flatten();
            changes.push(Change::Deleted {
                namespace: key.0,
                name: key.1,
                controller,
            });
        }
        for obj in objects {
            let previous = index.apply(key_of(obj.as_ref()), controller_of(obj.as_ref()).cloned());
            changes.push(Change::Applied { obj, previous });
        }
        changes
    }
}

impl<K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static> Synced for Cache<K> {
    /// Waits until the first full list has been taken in (and handed to the handler).
    fn wait_synced(&self) -> BoxFuture<'_, ()> {
        let mut rx = self.synced.subscribe();
        Box::pin(async move {
            let _ = rx.wait_for(|synced| *synced).await;
        })
    }
}

/// Reconciles with kube-runtime's `applier`, 16 at once, the objects of `cache` that `triggers`
/// names, requeueing them as `reconcile` or `error_policy` says; failures are logged (as
/// "replicaset reconcile" for a ReplicaSet). Runs until `triggers` closes.
pub async fn reconcile_objects<K, C, Fut, E>(
    cache: &Cache<K>,
    triggers: mpsc::UnboundedReceiver<ObjectRef<K>>,
    ctx: Arc<C>,
    mut reconcile: impl FnMut(Arc<K>, Arc<C>) -> Fut,
    error_policy: impl Fn(Arc<K>, &E, Arc<C>) -> Action,
) where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, E>>,
    E: std::error::Error + 'static,
{
    applier(
        move |obj, ctx| Box::pin(reconcile(obj, ctx)),
        error_policy,
        ctx,
        cache.store(),
        triggers.map(Ok::<_, Infallible>),
        Config::default().concurrency(16),
    )
    .for_each(|result| async move {
        if let Err(error) = result {
            let what = K::kind(&()).to_lowercase();
            tracing::debug!(%error, "{what} reconcile");
        }
    })
    .await;
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
