//! Reflectors: a watch that keeps an in-memory store of a kind and hands every change on.

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::hash::Hash;

/// Starts (lazily: nothing happens until the stream is polled) a watch of `api` that keeps
/// `Store` up to date, and returns the store with the stream of changes, already applied to
/// the store when they come out. Watch errors are logged and retried with backoff.
/// `managedFields` are dropped: no controller reads them.
pub fn reflect<K>(api: Api<K>, config: watcher::Config) -> (Store<K>, BoxStream<'static, Event<K>>)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, config)
        .default_backoff()
        .modify(|o: &mut K| o.meta_mut().managed_fields = None)
        .reflect(writer);
    (reader, log_errors(stream).boxed())
}

/// Drops (after logging) the errors of a watch stream.
pub fn log_errors<K: Send + 'static>(
    stream: impl Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static,
) -> impl Stream<Item = Event<K>> + Send + 'static {
    stream.filter_map(|r| async move {
        match r {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!(error = %e, "watch failed; retrying");
                None
            }
        }
    })
}

/// Calls `f` for every object an event carries (applied, deleted or relisted), with
/// whether it was deleted. `Init`/`InitDone` call `on_resync` (with `true` once done).
pub async fn for_each_change<K>(
    stream: BoxStream<'static, Event<K>>,
    mut f: impl FnMut(&K, bool),
    mut on_resync: impl FnMut(bool),
) {
    let mut stream = stream;
    while let Some(event) = stream.next().await {
        match &event {
            Event::Apply(o) | Event::InitApply(o) => f(o, false),
            Event::Delete(o) => f(o, true),
            Event::Init => on_resync(false),
            Event::InitDone => on_resync(true),
        }
    }
}
