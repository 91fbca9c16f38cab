//! The ReplicaSet controller: keeps `spec.replicas` pods of `spec.template` alive for each
//! ReplicaSet, as Kubernetes' `pkg/controller/replicaset` does.
//!
//! - Watches ReplicaSets and pods into [`Cache`]s (no list per reconcile); a pod
//!   change wakes its controller (or, for an orphan, every ReplicaSet whose selector matches).
//! - Creates missing pods (`generateName: <rs>-`, template labels/annotations, a controller
//!   ownerReference) in slow-start batches through `pod_control.rs`, deletes extra ones in
//!   Kubernetes' order ([`to_delete`](crate::pod_control::to_delete)), and holds
//!   [`expectations`] so a lagging watch never makes it create or delete twice.
//! - Adopts orphans its selector matches and releases owned pods it no longer matches.
//! - Writes `status` (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas with
//!   minReadySeconds, observedGeneration, the `ReplicaFailure` condition).
//! - Posts `SuccessfulCreate`/`SuccessfulDelete` (and `FailedCreate`/`FailedDelete`) Events.

mod expectations;
mod sync;

use crate::error::Error;
use crate::informer::{Cache, Change, controller_of, reconcile_objects, synced};
use crate::informers::Informers;
use crate::pod_control::PodControl;
use expectations::Expectations;
use futures::channel::mpsc;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use krust_component::events::Recorder;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Client, ResourceExt};
use std::sync::Arc;
use std::time::Duration;
use sync::reconcile;

/// The component name on Events and in logs.
pub const COMPONENT: &str = "replicaset-controller";

pub(crate) struct Context {
    client: Client,
    replicasets: Cache<ReplicaSet>,
    pods: Cache<Pod>,
    expectations: Expectations,
    recorder: Recorder,
}

impl Context {
    /// Creates and deletes this controller's pods, with its Events.
    fn pod_control(&self) -> PodControl<'_> {
        PodControl {
            client: &self.client,
            recorder: &self.recorder,
        }
    }
}

/// `namespace/name`.
pub(crate) fn key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// Runs this controller until it fails.
pub async fn run(informers: Informers) -> anyhow::Result<()> {
    let client = informers.client().clone();
    let (replicasets, rs_events) = Cache::reflect(&informers);
    let (pods, pod_events) = Cache::<Pod>::reflect(&informers);
    let ctx = Arc::new(Context {
        client: client.clone(),
        replicasets: replicasets.clone(),
        pods: pods.clone(),
        expectations: Expectations::default(),
        recorder: Recorder::new(client, COMPONENT),
    });
    let (tx, rx) = mpsc::unbounded::<ObjectRef<ReplicaSet>>();
    let control = async {
        synced(&[&replicasets, &pods]).await;
        tracing::info!("replicaset controller synced");
        reconcile_objects(&replicasets, rx, ctx.clone(), reconcile, error_policy).await;
    };
    tokio::join!(
        replicasets.run(rs_events, |change| on_replicaset(&ctx, &tx, change)),
        pods.run(pod_events, |change| on_pod(&ctx, &tx, change)),
        control,
    );
    anyhow::bail!("the replicaset controller stopped")
}

fn error_policy(rs: Arc<ReplicaSet>, error: &Error, _: Arc<Context>) -> Action {
    if error.is_conflict() {
        Action::requeue(Duration::from_millis(200))
    } else {
        tracing::warn!(replicaset = %rs.name_any(), %error, "sync failed");
        Action::requeue(Duration::from_secs(2))
    }
}

fn enqueue(tx: &mpsc::UnboundedSender<ObjectRef<ReplicaSet>>, namespace: &str, name: &str) {
    let _ = tx.unbounded_send(ObjectRef::new(name).within(namespace));
}

fn on_replicaset(
    ctx: &Context,
    tx: &mpsc::UnboundedSender<ObjectRef<ReplicaSet>>,
    change: Change<ReplicaSet>,
) {
    match change {
        Change::Applied { obj, .. } => {
            enqueue(tx, &obj.namespace().unwrap_or_default(), &obj.name_any())
        }
        Change::Deleted {
            namespace, name, ..
        } => ctx.expectations.forget(&key(&namespace, &name)),
    }
}

/// The ReplicaSet a controller reference points to, if it is in the cache with that uid.
fn resolve(ctx: &Context, namespace: &str, owner: &OwnerReference) -> Option<Arc<ReplicaSet>> {
    if owner.kind != "ReplicaSet" || !owner.api_version.starts_with("apps/") {
        return None;
    }
    ctx.replicasets
        .get(namespace, &owner.name)
        .filter(|rs| rs.metadata.uid.as_deref() == Some(owner.uid.as_str()))
}

/// Wakes the ReplicaSets a pod change concerns and records what expectations it meets.
fn on_pod(ctx: &Context, tx: &mpsc::UnboundedSender<ObjectRef<ReplicaSet>>, change: Change<Pod>) {
    match change {
        Change::Applied { obj: pod, previous } => {
            let namespace = pod.namespace().unwrap_or_default();
            let pod_key = key(&namespace, &pod.name_any());
            let controller = controller_of(pod.as_ref());
            if let Some(Some(old)) = &previous
                && controller.is_none_or(|c| c.uid != old.uid)
                && let Some(rs) = resolve(ctx, &namespace, old)
            {
                enqueue(tx, &namespace, &rs.name_any());
            }
            match controller {
                Some(owner) => {
                    let Some(rs) = resolve(ctx, &namespace, owner) else {
                        return;
                    };
                    let rs_key = key(&namespace, &rs.name_any());
                    if previous.is_none() {
                        ctx.expectations.creation_observed(&rs_key);
                    }
                    if pod.metadata.deletion_timestamp.is_some() {
                        ctx.expectations.deletion_observed(&rs_key, &pod_key);
                    }
                    enqueue(tx, &namespace, &rs.name_any());
                }
                None => {
                    if pod.metadata.deletion_timestamp.is_some() {
                        return;
                    }
                    for rs in sync::matching(ctx, &namespace, pod.metadata.labels.as_ref()) {
                        enqueue(tx, &namespace, &rs.name_any());
                    }
                }
            }
        }
        Change::Deleted {
            namespace,
            name,
            controller,
            ..
        } => {
            let Some(rs) = controller.and_then(|c| resolve(ctx, &namespace, &c)) else {
                return;
            };
            ctx.expectations
                .deletion_observed(&key(&namespace, &rs.name_any()), &key(&namespace, &name));
            enqueue(tx, &namespace, &rs.name_any());
        }
    }
}
