//! The Deployment controller, as Kubernetes' `pkg/controller/deployment`: each Deployment
//! owns a ReplicaSet per pod template (`<deployment>-<pod-template-hash>`) and moves replicas
//! from the old ones to the new one.
//!
//! - RollingUpdate honours `maxSurge` (rounded up) and `maxUnavailable` (rounded down);
//!   Recreate takes every old pod down before the new ReplicaSet scales up.
//! - Revisions: `deployment.kubernetes.io/revision` on the ReplicaSets and the Deployment; a
//!   template that matches an old ReplicaSet (`kubectl rollout undo` patches the template
//!   back) reuses that ReplicaSet with the next revision. `desired-replicas`/`max-replicas`
//!   annotations drive proportional scaling during a rollout; `revisionHistoryLimit` bounds
//!   the old ReplicaSets kept.
//! - `spec.paused` stops rollouts (scaling still happens); status `observedGeneration`,
//!   replica counts and the `Available`/`Progressing` conditions (with
//!   `ProgressDeadlineExceeded`) are what `kubectl rollout status` and `describe` read.
//! - Posts `ScalingReplicaSet` Events (`Scaled up replica set x from 0 to 1`).
//!
//! Watches Deployments, ReplicaSets and pods (the last only for Recreate) into caches; never
//! lists per sync.

mod progress;
mod recreate;
mod rolling;
mod sync;
mod util;

pub use util::{HASH_LABEL, compute_hash};

use crate::controller_ref::Claimer;
use crate::error::Error;
use crate::informer::{Cache, Change, controller_of, reconcile_objects, synced};
use crate::informers::Informers;
use crate::selector;
use futures::channel::mpsc;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use krust_component::events::{Recorder, reference};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};
use std::sync::Arc;
use std::time::Duration;
use sync::Sync;

/// The component name on Events and in logs.
pub const COMPONENT: &str = "deployment-controller";

pub(crate) struct Context {
    client: Client,
    deployments: Cache<Deployment>,
    replicasets: Cache<ReplicaSet>,
    pods: Cache<Pod>,
    recorder: Recorder,
}

type Queue = mpsc::UnboundedSender<ObjectRef<Deployment>>;

/// Runs this controller until it fails.
pub async fn run(informers: Informers) -> anyhow::Result<()> {
    let client = informers.client().clone();
    let (deployments, d_events) = Cache::<Deployment>::reflect(&informers);
    let (replicasets, rs_events) = Cache::<ReplicaSet>::reflect(&informers);
    let (pods, pod_events) = Cache::<Pod>::reflect(&informers);
    let ctx = Arc::new(Context {
        client: client.clone(),
        deployments: deployments.clone(),
        replicasets: replicasets.clone(),
        pods: pods.clone(),
        recorder: Recorder::new(client, COMPONENT),
    });
    let (tx, rx) = mpsc::unbounded::<ObjectRef<Deployment>>();
    let on_deployment = |change: Change<Deployment>| {
        if let Change::Applied { obj, .. } = change {
            enqueue(&tx, &obj.namespace().unwrap_or_default(), &obj.name_any());
        }
    };
    let control = async {
        synced(&[&deployments, &replicasets, &pods]).await;
        tracing::info!("deployment controller synced");
        reconcile_objects(&deployments, rx, ctx.clone(), reconcile, error_policy).await;
    };
    tokio::join!(
        deployments.run(d_events, on_deployment),
        replicasets.run(rs_events, |change| on_replicaset(&ctx, &tx, change)),
        pods.run(pod_events, |change| on_pod(&ctx, &tx, change)),
        control,
    );
    anyhow::bail!("the deployment controller stopped")
}

fn error_policy(d: Arc<Deployment>, error: &Error, _: Arc<Context>) -> Action {
    if error.is_conflict() {
        Action::requeue(Duration::from_millis(200))
    } else {
        tracing::warn!(deployment = %d.name_any(), %error, "sync failed");
        Action::requeue(Duration::from_secs(2))
    }
}

fn enqueue(tx: &Queue, namespace: &str, name: &str) {
    let _ = tx.unbounded_send(ObjectRef::new(name).within(namespace));
}

/// The Deployment a controller reference points to, if cached with that uid.
fn resolve(ctx: &Context, namespace: &str, owner: &OwnerReference) -> Option<Arc<Deployment>> {
    if owner.kind != "Deployment" || !owner.api_version.starts_with("apps/") {
        return None;
    }
    ctx.deployments
        .get(namespace, &owner.name)
        .filter(|d| d.metadata.uid.as_deref() == Some(owner.uid.as_str()))
}

/// Wakes the Deployments a ReplicaSet change concerns: its controller (old and new), or for
/// an orphan every Deployment whose selector matches it.
fn on_replicaset(ctx: &Context, tx: &Queue, change: Change<ReplicaSet>) {
    match change {
        Change::Applied { obj: rs, previous } => {
            let namespace = rs.namespace().unwrap_or_default();
            let controller = controller_of(rs.as_ref());
            if let Some(Some(old)) = &previous
                && controller.is_none_or(|c| c.uid != old.uid)
                && let Some(d) = resolve(ctx, &namespace, old)
            {
                enqueue(tx, &namespace, &d.name_any());
            }
            match controller {
                Some(owner) => {
                    if let Some(d) = resolve(ctx, &namespace, owner) {
                        enqueue(tx, &namespace, &d.name_any());
                    }
                }
                None => {
                    for d in ctx.deployments.all() {
                        if d.metadata.namespace.as_deref() != Some(namespace.as_str()) {
                            continue;
                        }
                        let matches = d
                            .spec
                            .as_ref()
                            .and_then(|s| selector::parse(&s.selector).ok())
                            .is_some_and(|sel| {
                                !sel.is_empty()
                                    && selector::matches(&sel, rs.metadata.labels.as_ref())
                            });
                        if matches {
                            enqueue(tx, &namespace, &d.name_any());
                        }
                    }
                }
            }
        }
        Change::Deleted {
            namespace,
            controller,
            ..
        } => {
            if let Some(d) = controller.and_then(|c| resolve(ctx, &namespace, &c)) {
                enqueue(tx, &namespace, &d.name_any());
            }
        }
    }
}

/// A Recreate rollout waits for old pods to be gone: their deletion wakes the Deployment.
fn on_pod(ctx: &Context, tx: &Queue, change: Change<Pod>) {
    let Change::Deleted {
        namespace,
        controller: Some(rs_ref),
        ..
    } = change
    else {
        return;
    };
    let Some(rs) = ctx.replicasets.get(&namespace, &rs_ref.name) else {
        return;
    };
    if let Some(d) = controller_of(rs.as_ref()).and_then(|c| resolve(ctx, &namespace, c))
        && util::is_recreate(&d)
    {
        enqueue(tx, &namespace, &d.name_any());
    }
}

/// The ReplicaSets the Deployment owns, after adopting and releasing
/// (`getReplicaSetsForDeployment`).
async fn claim_replica_sets(ctx: &Context, d: &Deployment) -> Result<Vec<ReplicaSet>, Error> {
    let namespace = d.namespace().unwrap_or_default();
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let spec = d.spec.clone().unwrap_or_default();
    let sel = selector::parse(&spec.selector)?;
    let mut candidates = ctx.replicasets.controlled_by(&namespace, &uid);
    candidates.extend(ctx.replicasets.orphans(&namespace));
    let claimer = Claimer {
        client: &ctx.client,
        owner: sync::owner_ref(d),
        selector: &sel,
        deleting: d.metadata.deletion_timestamp.is_some(),
    };
    let still_alive = async || -> Result<bool, Error> {
        let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), &namespace);
        let fresh = api.get_opt(&d.name_any()).await?;
        Ok(fresh.is_some_and(|f| {
            f.metadata.uid == d.metadata.uid && f.metadata.deletion_timestamp.is_none()
        }))
    };
    let owned = claimer.claim(candidates, still_alive).await?;
    Ok(owned.iter().map(|rs| (**rs).clone()).collect())
}

/// One Deployment sync (`syncDeployment`).
async fn reconcile(d: Arc<Deployment>, ctx: Arc<Context>) -> Result<Action, Error> {
    let mut d = (*d).clone();
    let spec = d.spec.clone().unwrap_or_default();
    if selector::is_everything(&spec.selector) {
        let msg = "This deployment is selecting all pods. A non-empty selector is required.";
        ctx.recorder
            .warning(&reference(&d), "SelectingAll", msg)
            .await;
        let status = d.status.get_or_insert_with(Default::default);
        if status.observed_generation < d.metadata.generation {
            status.observed_generation = d.metadata.generation;
            let status = status.clone();
            Sync::new(&ctx, d, Vec::new()).update_status(status).await?;
        }
        return Ok(Action::await_change());
    }
    let rs_list = claim_replica_sets(&ctx, &d).await?;
    let mut s = Sync::new(&ctx, d, rs_list);
    if s.d.metadata.deletion_timestamp.is_some() {
        s.sync_status_only().await?;
        return Ok(Action::await_change());
    }
    s.check_paused_conditions().await?;
    if spec.paused.unwrap_or(false) {
        s.sync().await?;
        return Ok(Action::await_change());
    }
    if s.is_scaling_event().await? {
        s.sync().await?;
        return Ok(Action::await_change());
    }
    let next = if util::is_recreate(&s.d) {
        s.rollout_recreate().await?
    } else {
        s.rollout_rolling().await?
    };
    Ok(next.map_or_else(Action::await_change, Action::requeue))
}
