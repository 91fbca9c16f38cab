//! What the service account controller and the root CA publisher share (Kubernetes builds
//! `serviceaccounts_controller.go` and `rootcacertpublisher` alike): one object of a kind,
//! by name, in every active namespace. Namespaces and the objects of that name are watched
//! into stores; a namespace is queued when it appears and when its object changes or goes,
//! every namespace after a relist; a sync sees the namespace's object as the store has it.

use crate::informer::{Outcome, WorkQueue, for_each_change, reflect, synced};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

const WORKERS: usize = 2;

/// Runs `sync(namespace, its object named `name` if any)` for every active namespace, as
/// often as needed, until a watch ends (an error).
pub async fn run<K, F, Fut>(client: Client, name: &str, what: &str, sync: F) -> anyhow::Result<()>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>,
    K: Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    F: Fn(String, Option<Arc<K>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send,
{
    let (namespaces, ns_events) = reflect(
        Api::<Namespace>::all(client.clone()),
        watcher::Config::default(),
    );
    let (objects, events) = reflect(
        Api::<K>::all(client),
        watcher::Config::default().fields(&format!("metadata.name={name}")),
    );
    let queue = WorkQueue::<String>::new();
    let ns_loop = for_each_change(
        ns_events,
        |ns: &Namespace, gone| {
            if !gone {
                queue.add(ns.name_any());
            }
        },
        |_| {},
    );
    let object_loop = for_each_change(
        events,
        |o: &K, _| {
            if let Some(ns) = o.namespace() {
                queue.add(ns);
            }
        },
        // After a relist, deletions may have been missed: look at every namespace.
        |done| {
            if done {
                for ns in namespaces.state() {
                    queue.add(ns.name_any());
                }
            }
        },
    );
    let sync = Arc::new(sync);
    let workers = async {
        synced(&[&namespaces, &objects]).await;
        queue
            .clone()
            .run(WORKERS, |namespace| {
                let ns = namespaces.get(&ObjectRef::new(&namespace));
                let object = objects.get(&ObjectRef::new(name).within(&namespace));
                let sync = sync.clone();
                async move {
                    let active = ns.is_some_and(|ns| {
                        ns.metadata.deletion_timestamp.is_none()
                            && ns.status.as_ref().and_then(|s| s.phase.as_deref())
                                != Some("Terminating")
                    });
                    if !active {
                        return Ok(None);
                    }
                    sync(namespace, object).await
                }
            })
            .await
    };
    tokio::join!(ns_loop, object_loop, workers);
    anyhow::bail!("the {what}'s watches ended")
}
