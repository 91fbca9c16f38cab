//! One ReplicaSet sync (`syncReplicaSet`): claim pods, create or delete to match, write status.

use super::owners::Claimer;
use super::{Context, Error, key, pods, selector};
use crate::informer::controller_of;
use futures::future::join_all;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use krust_component::events::reference;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// At most this many pods are created or deleted in one sync (`burstReplicas`).
const BURST: usize = 500;

/// The ReplicaSets of `namespace` whose selector matches `labels`.
pub(super) fn matching(
    ctx: &Context,
    namespace: &str,
    labels: Option<&BTreeMap<String, String>>,
) -> Vec<Arc<ReplicaSet>> {
    ctx.replicasets
        .all()
        .into_iter()
        .filter(|rs| rs.metadata.namespace.as_deref() == Some(namespace))
        .filter(|rs| {
            rs.spec
                .as_ref()
                .and_then(|s| selector::parse(&s.selector).ok())
                .is_some_and(|sel| !sel.is_empty() && selector::matches(&sel, labels))
        })
        .collect()
}

/// The controller reference a ReplicaSet puts on its pods.
pub(super) fn owner_ref(rs: &ReplicaSet) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: "ReplicaSet".into(),
        name: rs.name_any(),
        uid: rs.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// What managing replicas did.
struct Managed {
    deleted: HashSet<String>,
    failure: Option<(&'static str, Error)>,
}

pub(super) async fn reconcile(rs: Arc<ReplicaSet>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = rs.namespace().unwrap_or_default();
    let rs_key = key(&namespace, &rs.name_any());
    let needs_sync = ctx.expectations.satisfied(&rs_key);
    let spec = rs.spec.clone().unwrap_or_default();
    let sel = match selector::parse(&spec.selector) {
        Ok(sel) => sel,
        Err(error) => {
            tracing::warn!(replicaset = rs_key, %error, "cannot sync");
            return Ok(Action::await_change());
        }
    };
    let uid = rs.metadata.uid.clone().unwrap_or_default();
    let mut candidates = ctx.pods.controlled_by(&namespace, &uid);
    candidates.extend(ctx.pods.orphans(&namespace));
    candidates.retain(|p| pods::is_active(p));
    let claimer = Claimer {
        client: &ctx.client,
        owner: owner_ref(&rs),
        selector: &sel,
        deleting: rs.metadata.deletion_timestamp.is_some(),
    };
    let mut owned = claimer
        .claim(candidates, async || fresh_and_alive(&ctx, &rs).await)
        .await?;

    let mut failure = None;
    if needs_sync && rs.metadata.deletion_timestamp.is_none() {
        let managed = manage(&ctx, &rs, &owned).await;
        owned.retain(|p| !managed.deleted.contains(&p.name_any()));
        failure = managed.failure;
    }
    let now = Timestamp::now();
    let status = calculate_status(&rs, &owned, failure.as_ref(), now);
    update_status(&ctx, &rs, status).await?;
    if let Some((_, error)) = failure {
        return Err(error);
    }
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let next = owned
        .iter()
        .filter_map(|p| pods::until_available(p, min_ready, now))
        .min();
    Ok(next.map_or_else(Action::await_change, Action::requeue))
}

/// Whether the ReplicaSet, read afresh, is still this one and not being deleted.
async fn fresh_and_alive(ctx: &Context, rs: &ReplicaSet) -> Result<bool, Error> {
    let api: Api<ReplicaSet> =
        Api::namespaced(ctx.client.clone(), &rs.namespace().unwrap_or_default());
    let fresh = api.get_opt(&rs.name_any()).await?;
    Ok(fresh.is_some_and(|f| {
        f.metadata.uid == rs.metadata.uid && f.metadata.deletion_timestamp.is_none()
    }))
}

/// The message of an API error, as Kubernetes prints it in Events and conditions.
pub(crate) fn error_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}

/// Whether a create failed only because the namespace is being deleted.
fn namespace_terminating(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 403 && (
        s.details.as_ref().is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating"))
        || s.message.contains("because it is being terminated")))
}

async fn create_pod(ctx: &Context, rs: &ReplicaSet) -> Result<(), Error> {
    let namespace = rs.namespace().unwrap_or_default();
    let template = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .unwrap_or_default();
    let pod = pods::from_template(&template, &rs.name_any(), owner_ref(rs));
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    match api.create(&PostParams::default(), &pod).await {
        Ok(created) => {
            let message = format!("Created pod: {}", created.name_any());
            ctx.recorder
                .normal(&reference(rs), "SuccessfulCreate", &message)
                .await;
            Ok(())
        }
        Err(e) if namespace_terminating(&e) => Ok(()),
        Err(e) => {
            let message = format!("Error creating: {}", error_message(&e));
            ctx.recorder
                .warning(&reference(rs), "FailedCreate", &message)
                .await;
            Err(e.into())
        }
    }
}

async fn delete_pod(ctx: &Context, rs: &ReplicaSet, pod: &Pod) -> Result<(), Error> {
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &pod.namespace().unwrap_or_default());
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: pod.metadata.uid.clone(),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(&pod.name_any(), &params).await {
        Ok(_) => {
            let message = format!("Deleted pod: {}", pod.name_any());
            ctx.recorder
                .normal(&reference(rs), "SuccessfulDelete", &message)
                .await;
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => {
            let message = format!("Error deleting: {}", error_message(&e));
            ctx.recorder
                .warning(&reference(rs), "FailedDelete", &message)
                .await;
            Err(e.into())
        }
    }
}

/// The active pods of the ReplicaSet's owner family (its siblings under one Deployment).
fn related_pods(ctx: &Context, rs: &ReplicaSet, own: &[Arc<Pod>]) -> Vec<Arc<Pod>> {
    let namespace = rs.namespace().unwrap_or_default();
    let Some(owner) = controller_of(rs) else {
        return own.to_vec();
    };
    ctx.replicasets
        .controlled_by(&namespace, &owner.uid)
        .iter()
        .flat_map(|sibling| {
            let uid = sibling.metadata.uid.clone().unwrap_or_default();
            ctx.pods.controlled_by(&namespace, &uid)
        })
        .filter(|p| pods::is_active(p))
        .collect()
}

/// Creates or deletes pods so that `owned` meets `spec.replicas` (`manageReplicas`).
async fn manage(ctx: &Context, rs: &ReplicaSet, owned: &[Arc<Pod>]) -> Managed {
    let namespace = rs.namespace().unwrap_or_default();
    let rs_key = key(&namespace, &rs.name_any());
    let want = rs
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1)
        .max(0) as usize;
    let mut managed = Managed {
        deleted: HashSet::new(),
        failure: None,
    };
    if owned.len() < want {
        let n = (want - owned.len()).min(BURST);
        ctx.expectations.expect_creations(&rs_key, n);
        // Slow start: batches of 1, 2, 4, … stop at the first failure (a quota or an
        // admission error fails the same way for every pod).
        let (mut done, mut batch) = (0, 1);
        while done < n {
            let size = batch.min(n - done);
            let results = join_all((0..size).map(|_| create_pod(ctx, rs))).await;
            let ok = results.iter().filter(|r| r.is_ok()).count();
            done += size;
            if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
                // Failed and never-tried pods will not be observed.
                for _ in 0..(size - ok) + (n - done) {
                    ctx.expectations.creation_observed(&rs_key);
                }
                managed.failure = Some(("FailedCreate", e));
                break;
            }
            batch *= 2;
        }
    } else if owned.len() > want {
        let n = (owned.len() - want).min(BURST);
        let related = related_pods(ctx, rs, owned);
        let owned_refs: Vec<&Pod> = owned.iter().map(AsRef::as_ref).collect();
        let related_refs: Vec<&Pod> = related.iter().map(AsRef::as_ref).collect();
        let victims = pods::to_delete(&owned_refs, &related_refs, n);
        let keys = victims
            .iter()
            .map(|p| key(&namespace, &p.name_any()))
            .collect();
        ctx.expectations.expect_deletions(&rs_key, keys);
        let results = join_all(victims.iter().map(|p| delete_pod(ctx, rs, p))).await;
        for (pod, result) in victims.iter().zip(results) {
            match result {
                Ok(()) => {
                    managed.deleted.insert(pod.name_any());
                }
                Err(e) => {
                    ctx.expectations
                        .deletion_observed(&rs_key, &key(&namespace, &pod.name_any()));
                    managed.failure.get_or_insert(("FailedDelete", e));
                }
            }
        }
    }
    managed
}

fn now_time(now: Timestamp) -> Time {
    Time(Timestamp::from_second(now.as_second()).unwrap_or(now))
}

/// The status `pods` give the ReplicaSet (`calculateStatus`).
fn calculate_status(
    rs: &ReplicaSet,
    owned: &[Arc<Pod>],
    failure: Option<&(&'static str, Error)>,
    now: Timestamp,
) -> ReplicaSetStatus {
    let mut status = rs.status.clone().unwrap_or_default();
    let spec = rs.spec.clone().unwrap_or_default();
    let template_labels = spec
        .template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let (mut labeled, mut ready, mut available) = (0, 0, 0);
    for pod in owned {
        let labels = pod.metadata.labels.as_ref();
        if template_labels
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        {
            labeled += 1;
        }
        if pods::is_ready(pod) {
            ready += 1;
            if pods::is_available(pod, min_ready, now) {
                available += 1;
            }
        }
    }
    let mut conditions = status.conditions.take().unwrap_or_default();
    let has_failure = conditions.iter().any(|c| c.type_ == "ReplicaFailure");
    match failure {
        Some((reason, error)) if !has_failure => conditions.push(ReplicaSetCondition {
            type_: "ReplicaFailure".into(),
            status: "True".into(),
            reason: Some((*reason).into()),
            message: Some(error.to_string()),
            last_transition_time: Some(now_time(now)),
        }),
        None if has_failure => conditions.retain(|c| c.type_ != "ReplicaFailure"),
        _ => {}
    }
    status.conditions = (!conditions.is_empty()).then_some(conditions);
    status.replicas = owned.len() as i32;
    status.fully_labeled_replicas = Some(labeled);
    status.ready_replicas = Some(ready);
    status.available_replicas = Some(available);
    status
}

/// Writes the status (with `observedGeneration`) if it changed.
async fn update_status(
    ctx: &Context,
    rs: &ReplicaSet,
    mut status: ReplicaSetStatus,
) -> Result<(), Error> {
    let generation = rs.metadata.generation;
    let old = rs.status.clone().unwrap_or_default();
    status.observed_generation = generation;
    if status == old {
        return Ok(());
    }
    let mut body = serde_json::to_value(&status).map_err(anyhow::Error::from)?;
    // A merge patch removes only what it names as null.
    for field in ["conditions", "observedGeneration"] {
        if body.get(field).is_none() {
            body[field] = json!(null);
        }
    }
    let api: Api<ReplicaSet> =
        Api::namespaced(ctx.client.clone(), &rs.namespace().unwrap_or_default());
    match api
        .patch_status(
            &rs.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&json!({ "status": body })),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(ready: bool, labels: Value) -> Arc<Pod> {
        let mut v =
            json!({"metadata": {"name": "p", "labels": labels}, "spec": {"containers": []}});
        if ready {
            v["status"] = json!({"conditions": [{"type": "Ready", "status": "True",
                                                 "lastTransitionTime": "2020-01-01T00:00:00Z"}]});
        }
        Arc::new(serde_json::from_value(v).unwrap())
    }

    use serde_json::Value;

    #[test]
    fn status_counts_and_replica_failure() {
        let rs: ReplicaSet = serde_json::from_value(json!({
            "metadata": {"name": "rs", "generation": 2},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b", "c": "d"}}}},
        }))
        .unwrap();
        let pods = [
            pod(true, json!({"a": "b", "c": "d"})),
            pod(false, json!({"a": "b"})),
        ];
        let now = Timestamp::now();
        let failure = (
            "FailedCreate",
            Error::from(anyhow::anyhow!("quota exceeded")),
        );
        let status = calculate_status(&rs, &pods, Some(&failure), now);
        assert_eq!(status.replicas, 2);
        assert_eq!(status.fully_labeled_replicas, Some(1));
        assert_eq!(status.ready_replicas, Some(1));
        assert_eq!(status.available_replicas, Some(1));
        let c = &status.conditions.as_ref().unwrap()[0];
        assert_eq!(
            (
                c.type_.as_str(),
                c.status.as_str(),
                c.reason.as_deref(),
                c.message.as_deref()
            ),
            (
                "ReplicaFailure",
                "True",
                Some("FailedCreate"),
                Some("quota exceeded")
            )
        );
        let mut failed = rs.clone();
        failed.status = Some(status);
        let status = calculate_status(&failed, &pods, None, now);
        assert_eq!(status.conditions, None, "cleared once creates succeed");
    }
}
