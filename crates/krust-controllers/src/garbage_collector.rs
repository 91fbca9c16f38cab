//! The garbage collector: `ownerReferences` across every served resource (found through
//! discovery; Events excepted, as in Kubernetes).
//!
//! - **Background**: an object all of whose owners are gone is deleted (an owner missing from
//!   the graph is confirmed gone with a GET first, by name and UID).
//! - **Foreground**: an owner being deleted with the `foregroundDeletion` finalizer has its
//!   dependents deleted; once none with `blockOwnerDeletion` remains, the finalizer is removed
//!   (and the server deletes the owner).
//! - **Orphan**: an owner being deleted with the `orphan` finalizer has its reference removed
//!   from its dependents, then the finalizer removed.
//!
//! Every resource is watched metadata-only into one in-memory graph (`graph.rs`); workers
//! act on the objects the graph's changes point at, and read the server only to confirm an
//! owner's absence or to write (`patch.rs`).
//!
//! Mirrors Kubernetes' `pkg/controller/garbagecollector/garbagecollector.go`:
//! `Gc::process` is its `attemptToDeleteItem` (and `attemptToOrphan`),
//! `Gc::delete_dependents` its `processDeletingDependentsItem`. Owner cycles are broken
//! as there: an object whose owner waits in the foreground and one of whose dependents waits
//! too has its references made non-blocking before it is deleted; and an owner whose
//! blocking dependent waits for it through a cycle anyway (raced, or left from before) has
//! that one reference made non-blocking. One item cannot stop the others: each is processed
//! after a yield, within `ITEM_TIMEOUT`, a panic being an error; errors are logged and
//! retried with backoff.

mod graph;
mod patch;

use self::graph::{FOREGROUND, Graph, Node, ORPHAN};
use crate::discovery::{self, Served, resolve, served_eventually};
use crate::informer::{Outcome, WorkQueue, log_errors};
use futures::{FutureExt, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{
    Api, DeleteParams, DynamicObject, PartialObjectMeta, Preconditions, PropagationPolicy,
};
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Client, ResourceExt};
use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;

const WORKERS: usize = 8;
/// How often discovery is re-run to pick up resources served later.
const REDISCOVERY: Duration = Duration::from_secs(60);
/// An owner waiting for dependents that are themselves terminating is looked at again after
/// this long even if nothing is seen to change.
const FOREGROUND_RECHECK: Duration = Duration::from_secs(10);
/// How long the workers wait for every resource's first list before starting anyway.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one object's processing may take before it is abandoned and retried.
const ITEM_TIMEOUT: Duration = Duration::from_secs(30);

type Meta = PartialObjectMeta<DynamicObject>;

struct Gc {
    client: Client,
    graph: Mutex<Graph>,
    served: RwLock<Vec<Arc<Served>>>,
    queue: Arc<WorkQueue<String>>,
}

/// Runs this controller until it fails.
pub async fn run(client: Client) -> anyhow::Result<()> {
    let gc = Arc::new(Gc {
        client: client.clone(),
        graph: Mutex::default(),
        served: RwLock::default(),
        queue: WorkQueue::new(),
    });
    let (tx, mut rx) = mpsc::unbounded_channel::<(Arc<Served>, Event<Meta>)>();
    let mut watches = tokio::task::JoinSet::new();
    let mut watched: HashSet<String> = HashSet::new();
    let (synced_tx, synced_rx) = tokio::sync::watch::channel(0usize);
    let mut expected_synced = 0;

    // The first discovery decides what "synced" means for starting the workers.
    for s in collectable(served_eventually(&client).await) {
        watched.insert(s.group_resource());
        expected_synced += 1;
        watches.spawn(watch_resource(client.clone(), s.clone(), tx.clone()));
        gc.served.write().expect("served lock").push(s);
    }
    let rediscover = {
        let gc = gc.clone();
        async move {
            loop {
                tokio::time::sleep(REDISCOVERY).await;
                let Ok(all) = discovery::served(&client).await else {
                    continue;
                };
                for s in collectable(all) {
                    if watched.insert(s.group_resource()) {
                        tracing::info!(resource = %s.group_resource(), "collecting a new resource");
                        watches.spawn(watch_resource(client.clone(), s.clone(), tx.clone()));
                        gc.served.write().expect("served lock").push(s);
                    }
                }
            }
        }
    };
    let graph_loop = {
        let gc = gc.clone();
        async move {
            let mut synced: HashSet<String> = HashSet::new();
            while let Some((served, event)) = rx.recv().await {
                let attend = {
                    let mut graph = gc.graph();
                    match event {
                        Event::Apply(o) | Event::InitApply(o) => match node(&served, &o) {
                            Some(n) => graph.apply(n),
                            None => Vec::new(),
                        },
                        Event::Delete(o) => graph.delete(&o.uid().unwrap_or_default()),
                        Event::Init => {
                            graph.relist_started(&served);
                            Vec::new()
                        }
                        Event::InitDone => {
                            if synced.insert(served.group_resource()) {
                                synced_tx.send_modify(|n| *n += 1);
                            }
                            graph.relist_done(&served)
                        }
                    }
                };
                for uid in attend {
                    gc.queue.add(uid);
                }
            }
        }
    };
    let workers = {
        let gc = gc.clone();
        async move {
            // Until every resource is listed, an absent owner may just not be seen yet.
            // A resource that never lists must not stop collection for good: after a while,
            // go on (as Kubernetes' collector does) and say so.
            let mut synced_rx = synced_rx;
            let synced = synced_rx.wait_for(|n| *n >= expected_synced);
            let outcome = tokio::time::timeout(SYNC_TIMEOUT, synced).await.map(|_| ());
            match outcome {
                Ok(_) => tracing::debug!(objects = gc.graph().len(), "graph synced"),
                Err(_) => tracing::warn!(
                    listed = *synced_rx.borrow(),
                    of = expected_synced,
                    "not every resource could be listed; collecting anyway"
                ),
            }
            gc.queue
                .clone()
                .run(WORKERS, |uid| {
                    let gc = gc.clone();
                    async move { gc.attend(uid).await }
                })
                .await
        }
    };
    tokio::join!(rediscover, graph_loop, workers);
    anyhow::bail!("the garbage collector's watches ended")
}

/// What the collector watches: resources that can be listed, watched and deleted, but Events.
fn collectable(all: Vec<Arc<Served>>) -> Vec<Arc<Served>> {
    all.into_iter()
        .filter(|s| !s.is_events() && ["list", "watch", "delete"].iter().all(|v| s.supports(v)))
        .collect()
}

/// Forwards the metadata-only watch of one resource to the graph.
async fn watch_resource(
    client: Client,
    served: Arc<Served>,
    tx: mpsc::UnboundedSender<(Arc<Served>, Event<Meta>)>,
) {
    use kube::runtime::WatchStreamExt;
    let api: Api<Meta> = served.api(&client, None);
    let stream = watcher(api, watcher::Config::default()).default_backoff();
    let mut events = log_errors(served.ar.kind.clone(), stream).boxed();
    while let Some(event) = events.next().await {
        if tx.send((served.clone(), event)).is_err() {
            return;
        }
    }
}

fn node(served: &Arc<Served>, o: &Meta) -> Option<Node> {
    Some(Node {
        uid: o.uid()?,
        resource: served.clone(),
        namespace: o.namespace(),
        name: o.name_any(),
        owners: o.owner_references().to_vec(),
        finalizers: o.finalizers().to_vec(),
        deleting: o.metadata.deletion_timestamp.is_some(),
        resource_version: o.resource_version().unwrap_or_default(),
    })
}

/// How an owner reference stands.
enum Owner {
    /// Exists and is not being deleted in the foreground.
    Solid,
    /// Gone (or replaced by another object of the same name).
    Dangling,
    /// Being deleted in the foreground, waiting for its dependents.
    Waiting,
}

impl Gc {
    /// The graph (still usable after a panic elsewhere while it was locked: every change
    /// to it is complete when made).
    fn graph(&self) -> MutexGuard<'_, Graph> {
        self.graph.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Processes one object, bounded: after a yield (so that an object queued again at once
    /// cannot keep the graph from its updates), within [`ITEM_TIMEOUT`], a panic turned into
    /// an error. The queue retries errors with backoff while the other objects go on.
    async fn attend(&self, uid: String) -> Outcome {
        tokio::task::yield_now().await;
        let work = AssertUnwindSafe(self.process(&uid)).catch_unwind();
        let outcome = match tokio::time::timeout(ITEM_TIMEOUT, work).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(panic)) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(anyhow::anyhow!("panicked: {what}"))
            }
            Err(_) => Err(anyhow::anyhow!("not done within {ITEM_TIMEOUT:?}")),
        };
        if let Err(e) = &outcome {
            tracing::warn!(%uid, error = %format!("{e:#}"), "collecting an object failed; retrying");
        }
        outcome
    }

    /// Kubernetes' `attemptToDeleteItem`: an owner being deleted with a finalizer has its
    /// dependents orphaned or deleted; an object none of whose owners stands is deleted.
    async fn process(&self, uid: &str) -> Outcome {
        let Some(mut node) = self.graph().get(uid).cloned() else {
            return Ok(None);
        };
        if node.deleting {
            if node.has_finalizer(ORPHAN) {
                return self.orphan_dependents(&node).await;
            }
            if node.has_finalizer(FOREGROUND) {
                return self.delete_dependents(&node).await;
            }
            return Ok(None);
        }
        if node.owners.is_empty() {
            return Ok(None);
        }
        let mut solid = 0;
        let mut stale: HashSet<String> = HashSet::new();
        let mut any_waiting = false;
        for owner in &node.owners {
            match self.owner_state(&node, owner).await? {
                Owner::Solid => solid += 1,
                Owner::Dangling => {
                    stale.insert(owner.uid.clone());
                }
                Owner::Waiting => {
                    any_waiting = true;
                    stale.insert(owner.uid.clone());
                }
            }
        }
        if solid > 0 {
            if !stale.is_empty() {
                tracing::debug!(object = %node.display(), "removing references to gone owners");
                self.remove_owner_refs(&node, &stale).await?;
            }
            return Ok(None);
        }
        // No owner left standing: the object goes. If an owner waits in the foreground and
        // this object has dependents of its own, they go first (foreground again); else an
        // orphan or foreground finalizer already on it says how.
        let has_dependents = self.graph().has_dependents(&node.uid);
        if any_waiting && has_dependents {
            self.unblock_if_dependents_wait(&mut node).await?;
        }
        let policy = if any_waiting && has_dependents || node.has_finalizer(FOREGROUND) {
            PropagationPolicy::Foreground
        } else if node.has_finalizer(ORPHAN) {
            PropagationPolicy::Orphan
        } else {
            PropagationPolicy::Background
        };
        tracing::debug!(object = %node.display(), ?policy, "deleting an object whose owners are gone");
        let api: Api<DynamicObject> = node.resource.api(&self.client, node.namespace.as_deref());
        let mut dp = DeleteParams {
            propagation_policy: Some(policy),
            preconditions: Some(Preconditions {
                uid: Some(node.uid.clone()),
                resource_version: Some(node.resource_version.clone()),
            }),
            ..Default::default()
        };
        for _ in 0..2 {
            match api.delete(&node.name, &dp).await {
                Ok(_) => return Ok(None),
                Err(kube::Error::Api(e)) if e.code == 404 => return Ok(None),
                Err(kube::Error::Api(e)) if e.code == 409 => {
                    // Changed since the graph saw it: delete anyway if its owners did not.
                    let meta: Api<Meta> =
                        node.resource.api(&self.client, node.namespace.as_deref());
                    match meta.get_opt(&node.name).await? {
                        Some(o)
                            if o.uid().as_deref() == Some(node.uid.as_str())
                                && o.owner_references() == node.owners.as_slice() =>
                        {
                            if let Some(p) = &mut dp.preconditions {
                                p.resource_version = None;
                            }
                        }
                        _ => return Ok(None),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }

    /// Where an owner reference of `node` stands: from the graph, or (if the graph does not
    /// know the UID) from the server.
    async fn owner_state(&self, node: &Node, owner: &OwnerReference) -> anyhow::Result<Owner> {
        if let Some(o) = self.graph().get(&owner.uid) {
            return Ok(if o.deleting_dependents() {
                Owner::Waiting
            } else {
                Owner::Solid
            });
        }
        let served = {
            let all = self.served.read().expect("served lock");
            resolve(&all, &owner.api_version, &owner.kind).cloned()
        };
        let Some(served) = served else {
            // A kind the server does not serve: keep the dependent, as Kubernetes does
            // until the owner's kind can be resolved.
            tracing::debug!(object = %node.display(), kind = %owner.kind, "owner of an unknown kind");
            return Ok(Owner::Solid);
        };
        if served.namespaced && node.namespace.is_none() {
            // A cluster-scoped object cannot be owned by a namespaced one.
            return Ok(Owner::Dangling);
        }
        let api: Api<Meta> = served.api(&self.client, node.namespace.as_deref());
        match api.get_opt(&owner.name).await? {
            Some(o) if o.uid().as_deref() == Some(owner.uid.as_str()) => {
                let deleting_dependents = o.metadata.deletion_timestamp.is_some()
                    && o.finalizers().iter().any(|f| f == FOREGROUND);
                Ok(if deleting_dependents {
                    Owner::Waiting
                } else {
                    Owner::Solid
                })
            }
            _ => Ok(Owner::Dangling),
        }
    }

    /// Kubernetes' guard against cycles: an object about to be deleted in the foreground for
    /// a waiting owner, one of whose dependents waits in the foreground too (perhaps for
    /// that very owner), first has its references made non-blocking, so that its owners need
    /// not wait for it. `node` is updated to what was written.
    async fn unblock_if_dependents_wait(&self, node: &mut Node) -> anyhow::Result<()> {
        let dependents = self.graph().dependents(&node.uid);
        let Some(waiting) = dependents.iter().find(|d| d.deleting_dependents()) else {
            return Ok(());
        };
        tracing::debug!(object = %node.display(), dependent = %waiting.display(),
            "an owner and a dependent both wait in the foreground: unblocking the owners");
        let expected = patch::unblocked(&node.owners, None);
        if let Some(meta) = self.unblock(node, None).await?
            && meta.owner_references.as_deref().unwrap_or_default() == expected.as_slice()
        {
            node.owners = expected;
            node.resource_version = meta.resource_version.unwrap_or_default();
        }
        Ok(())
    }

    /// Foreground deletion of `owner` (Kubernetes' `processDeletingDependentsItem`): delete
    /// its dependents; remove the finalizer once none blocks it. A blocking dependent that
    /// waits for this owner in turn (a cycle) has its reference to it made non-blocking.
    async fn delete_dependents(&self, owner: &Node) -> Outcome {
        let (dependents, blocking) = {
            let graph = self.graph();
            let blocking = graph.blocking_dependents(&owner.uid);
            (graph.dependents(&owner.uid), blocking)
        };
        if blocking.is_empty() {
            tracing::debug!(object = %owner.display(), "dependents gone; finishing foreground deletion");
            self.remove_finalizer(owner, FOREGROUND).await?;
            return Ok(None);
        }
        let cycles: Vec<&Node> = {
            let graph = self.graph();
            blocking
                .iter()
                .filter(|d| d.deleting_dependents() && graph.waits_for(&d.uid, &owner.uid))
                .collect()
        };
        for d in &cycles {
            tracing::debug!(object = %owner.display(), dependent = %d.display(),
                "owner and dependent wait for each other; unblocking the dependent's reference");
            self.unblock(d, Some(&owner.uid)).await?;
        }
        // Dependents already being deleted are not queued again: they are looked at when
        // they change, and queuing them here would chase a cycle around without end.
        for d in dependents.iter().filter(|d| !d.deleting) {
            self.queue.add(d.uid.clone());
        }
        Ok(Some(FOREGROUND_RECHECK))
    }

    /// Orphan deletion of `owner`: drop the references to it, then the finalizer.
    async fn orphan_dependents(&self, owner: &Node) -> Outcome {
        let dependents = self.graph().dependents(&owner.uid);
        let this = HashSet::from([owner.uid.clone()]);
        for d in &dependents {
            self.remove_owner_refs(d, &this).await?;
        }
        tracing::debug!(object = %owner.display(), orphaned = dependents.len(), "orphaned dependents");
        self.remove_finalizer(owner, ORPHAN).await?;
        Ok(None)
    }
}
