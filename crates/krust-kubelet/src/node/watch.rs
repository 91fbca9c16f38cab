//! How the node watches the API (client-go's reflector with the kubelet's informers): a
//! watch retried with backoff, its objects without `managedFields`, which nothing on the
//! node reads and which would otherwise stay in every cache the node keeps (its pods, and
//! the Services, EndpointSlices, pods and namespaces of the whole cluster).

use std::fmt::Debug;

use futures::StreamExt;
use futures::stream::BoxStream;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

/// The events of a watch of `api` with `config`, retried with backoff, `managedFields`
/// dropped.
pub fn watch<K>(
    api: Api<K>,
    config: watcher::Config,
) -> BoxStream<'static, watcher::Result<watcher::Event<K>>>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    watcher(api, config)
        .default_backoff()
        .modify(|o| o.meta_mut().managed_fields = None)
        .boxed()
}
