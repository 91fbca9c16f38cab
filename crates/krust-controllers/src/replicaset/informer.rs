//! Watch-fed caches for the workload controllers (the ReplicaSet and Deployment controllers
//! share this module).
//!
//! A [`Cache`] is a kube-runtime reflector store plus an index of its objects by namespace and
//! controller (`ownerReferences[controller=true].uid`), so that a reconcile finds the pods of a
//! ReplicaSet, or the ReplicaSets of a Deployment, without listing: neither the API nor the
//! whole store. [`run`] drives the watch, keeps both up to date, and hands every change to a
//! handler *after* the cache holds it, so that whatever the handler triggers sees it.

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::runtime::reflector::{self, ObjectRef, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// `(namespace, name)`.
pub(crate) type Key = (String, String);

/// A change the cache has taken in.
pub(crate) enum Change<K> {
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

/// The controller reference of an object, if any.
pub(crate) fn controller_of<K: Resource>(obj: &K) -> Option<&OwnerReference> {
    obj.meta()
        .owner_references
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|r| r.controller == Some(true))
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

/// A store of `K` indexed by controller. Cheap to clone.
pub(crate) struct Cache<K: Resource<DynamicType = ()> + Clone + 'static> {
    store: Store<K>,
    index: Arc<Mutex<Index>>,
    synced: watch::Receiver<bool>,
    synced_tx: Arc<watch::Sender<bool>>,
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Clone for Cache<K> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            index: self.index.clone(),
            synced: self.synced.clone(),
            synced_tx: self.synced_tx.clone(),
        }
    }
}

/// A new, empty cache and the writer [`run`] fills it through.
pub(crate) fn cache<K>() -> (Cache<K>, Writer<K>)
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    let (store, writer) = reflector::store();
    let (tx, rx) = watch::channel(false);
    let cache = Cache {
        store,
        index: Arc::default(),
        synced: rx,
        synced_tx: Arc::new(tx),
    };
    (cache, writer)
}

impl<K> Cache<K>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    /// The reflector store (for `kube::runtime::controller::applier`).
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// Waits until the first full list has been taken in.
    pub async fn wait_synced(&self) {
        let mut rx = self.synced.clone();
        let _ = rx.wait_for(|synced| *synced).await;
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
}

fn key_of<K: Resource>(obj: &K) -> Key {
    (obj.namespace().unwrap_or_default(), obj.name_any())
}

/// Watches `api` for ever (retrying with backoff), keeping `cache` current and calling
/// `on_change` for each change once the cache holds it.
pub(crate) async fn run<K>(
    api: Api<K>,
    writer: Writer<K>,
    cache: Cache<K>,
    mut on_change: impl FnMut(Change<K>),
) where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let kind = K::kind(&()).to_string();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer);
    futures::pin_mut!(stream);
    while let Some(event) = stream.next().await {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(%kind, %error, "watch failed; retrying");
                continue;
            }
        };
        match event {
            watcher::Event::Apply(obj) => {
                let previous = cache
                    .index
                    .lock()
                    .expect("index lock")
                    .apply(key_of(&obj), controller_of(&obj).cloned());
                on_change(Change::Applied {
                    obj: Arc::new(obj),
                    previous,
                });
            }
            watcher::Event::Delete(obj) => {
                let key = key_of(&obj);
                let last = cache.index.lock().expect("index lock").remove(&key);
                let controller = controller_of(&obj).cloned().or(last.flatten());
                on_change(Change::Deleted {
                    namespace: key.0,
                    name: key.1,
                    controller,
                });
            }
            watcher::Event::Init | watcher::Event::InitApply(_) => {}
            watcher::Event::InitDone => {
                // The store now holds the full list: bring the index in line and report
                // every object (anything may have changed while the watch was down).
                let objects = cache.store.state();
                let mut changes = Vec::with_capacity(objects.len());
                {
                    let mut index = cache.index.lock().expect("index lock");
                    let present: std::collections::HashSet<Key> =
                        objects.iter().map(|o| key_of(o.as_ref())).collect();
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
                        let previous =
                            index.apply(key_of(obj.as_ref()), controller_of(obj.as_ref()).cloned());
                        changes.push(Change::Applied { obj, previous });
                    }
                }
                changes.into_iter().for_each(&mut on_change);
                cache.synced_tx.send_replace(true);
            }
        }
    }
}
