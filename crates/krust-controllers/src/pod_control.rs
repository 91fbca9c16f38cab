//! How a workload controller creates and deletes its pods, as Kubernetes'
//! `pkg/controller/controller_utils.go` does: `RealPodControl` (the writes, with their
//! Events), `GetPodFromTemplate` (the pod a template makes) and the `ActivePodsWithRanks`
//! order (which pods go first).

use crate::error::{Error, error_message};
use crate::pod_util::{is_active, is_ready, phase, ready_since};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use krust_component::events::{Recorder, reference};
use kube::api::{DeleteParams, PostParams, Preconditions};
use kube::{Api, Client, Resource, ResourceExt};
use std::cmp::Ordering;
use std::collections::HashMap;

/// Creates and deletes pods for a controller, posting `SuccessfulCreate`/`FailedCreate` and
/// `SuccessfulDelete`/`FailedDelete` Events on it (`RealPodControl`).
pub(crate) struct PodControl<'a> {
    /// The client the writes go through.
    pub client: &'a Client,
    /// The controller's Event recorder.
    pub recorder: &'a Recorder,
}

impl PodControl<'_> {
    /// Creates a pod of `template` in `controller`'s namespace, named after it and carrying
    /// `owner` (`CreatePodsWithControllerRef`). A namespace being deleted is not a failure.
    pub async fn create<K: Resource<DynamicType = ()>>(
        &self,
        controller: &K,
        template: &PodTemplateSpec,
        owner: OwnerReference,
    ) -> Result<(), Error> {
        let namespace = controller.namespace().unwrap_or_default();
        let pod = from_template(template, &controller.name_any(), owner);
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        match api.create(&PostParams::default(), &pod).await {
            Ok(created) => {
                let message = format!("Created pod: {}", created.name_any());
                self.recorder
                    .normal(&reference(controller), "SuccessfulCreate", &message)
                    .await;
                Ok(())
            }
            Err(e) if namespace_terminating(&e) => Ok(()),
            Err(e) => {
                let message = format!("Error creating: {}", error_message(&e));
                self.recorder
                    .warning(&reference(controller), "FailedCreate", &message)
                    .await;
                Err(e.into())
            }
        }
    }

    /// Deletes `pod` (if it is still the one of that uid) for `controller` (`DeletePod`). A
    /// pod already gone is not a failure.
    pub async fn delete<K: Resource<DynamicType = ()>>(
        &self,
        controller: &K,
        pod: &Pod,
    ) -> Result<(), Error> {
        let api: Api<Pod> =
            Api::namespaced(self.client.clone(), &pod.namespace().unwrap_or_default());
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
                self.recorder
                    .normal(&reference(controller), "SuccessfulDelete", &message)
                    .await;
                Ok(())
            }
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => {
                let message = format!("Error deleting: {}", error_message(&e));
                self.recorder
                    .warning(&reference(controller), "FailedDelete", &message)
                    .await;
                Err(e.into())
            }
        }
    }
}

/// Whether a create failed only because the namespace is being deleted.
fn namespace_terminating(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 403 && (
        s.details.as_ref().is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating"))
        || s.message.contains("because it is being terminated")))
}

/// The pod a controller creates from its template (`controller.GetPodFromTemplate`).
fn from_template(template: &PodTemplateSpec, controller_name: &str, owner: OwnerReference) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    // `<name>-` unless that is not a valid pod name prefix.
    let prefix = if controller_name.len() < 253 {
        format!("{controller_name}-")
    } else {
        controller_name.to_string()
    };
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(prefix),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

fn node(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or_default()
}

fn phase_ordinal(pod: &Pod) -> u8 {
    match phase(pod) {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 3,
    }
}

fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("controller.kubernetes.io/pod-deletion-cost"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn max_restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().map(|c| c.restart_count).max().unwrap_or(0))
        .unwrap_or(0)
}

/// `floor(log2(now - t))` in nanoseconds, -1 for times not in the past.
fn log_rank(t: Timestamp, now: Timestamp) -> i64 {
    let d = now.duration_since(t).as_nanos();
    if d > 0 { (d as f64).log2() as i64 } else { -1 }
}

/// Orders two times as "delete first": empty first, then newer by log-scale bucket (as
/// Kubernetes' `LogarithmicScaleDown` does). The uid tie-break comes last in
/// [`deletion_order`], so that the whole order stays total (Rust's sort checks it).
fn newer_first(a: Option<Timestamp>, b: Option<Timestamp>, now: Timestamp) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => log_rank(a, now).cmp(&log_rank(b, now)),
    }
}

/// The order Kubernetes deletes a ReplicaSet's pods in (`ActivePodsWithRanks.Less`): first
/// unscheduled, then pending/unknown before running, not ready before ready, lower
/// `pod-deletion-cost`, more pods of the same owner family on the node, ready for less time,
/// more restarts, newer.
fn deletion_order(a: (&Pod, usize), b: (&Pod, usize), now: Timestamp) -> Ordering {
    let ((pa, ra), (pb, rb)) = (a, b);
    let (na, nb) = (node(pa), node(pb));
    if na != nb && (na.is_empty() || nb.is_empty()) {
        return if na.is_empty() {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    let uids = (
        pa.metadata.uid.as_deref().unwrap_or_default(),
        pb.metadata.uid.as_deref().unwrap_or_default(),
    );
    phase_ordinal(pa)
        .cmp(&phase_ordinal(pb))
        .then_with(|| is_ready(pa).cmp(&is_ready(pb)))
        .then_with(|| deletion_cost(pa).cmp(&deletion_cost(pb)))
        .then_with(|| rb.cmp(&ra))
        .then_with(|| {
            if is_ready(pa) && is_ready(pb) {
                newer_first(ready_since(pa), ready_since(pb), now)
            } else {
                Ordering::Equal
            }
        })
        .then_with(|| max_restarts(pb).cmp(&max_restarts(pa)))
        .then_with(|| {
            let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
            newer_first(created(pa), created(pb), now)
        })
        .then_with(|| uids.0.cmp(uids.1))
}

/// The `n` pods to delete among `pods`; `related` are the active pods of the owner family
/// (used to prefer pods doubled up on a node).
pub(crate) fn to_delete<'a>(pods: &[&'a Pod], related: &[&Pod], n: usize) -> Vec<&'a Pod> {
    let mut pods = pods.to_vec();
    if n < pods.len() {
        let mut on_node: HashMap<&str, usize> = HashMap::new();
        for p in related.iter().filter(|p| is_active(p)) {
            *on_node.entry(node(p)).or_default() += 1;
        }
        let now = Timestamp::now();
        let rank = |p: &Pod| on_node.get(node(p)).copied().unwrap_or(0);
        pods.sort_by(|a, b| deletion_order((a, rank(a)), (b, rank(b)), now));
    }
    pods.truncate(n);
    pods
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, node: &str, phase: &str, ready: Option<&str>, created: &str) -> Pod {
        let mut v = json!({
            "metadata": {"name": name, "uid": name, "creationTimestamp": created},
            "spec": {"containers": [], "nodeName": node},
            "status": {"phase": phase},
        });
        if let Some(at) = ready {
            v["status"]["conditions"] =
                json!([{"type": "Ready", "status": "True", "lastTransitionTime": at}]);
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn unhealthy_and_newer_pods_go_first() {
        let old_ready = pod(
            "a",
            "n1",
            "Running",
            Some("2020-01-01T00:00:00Z"),
            "2020-01-01T00:00:00Z",
        );
        let new_ready = pod(
            "b",
            "n1",
            "Running",
            Some("2024-01-01T00:00:00Z"),
            "2024-01-01T00:00:00Z",
        );
        let not_ready = pod("c", "n1", "Running", None, "2019-01-01T00:00:00Z");
        let pending = pod("d", "n1", "Pending", None, "2019-01-01T00:00:00Z");
        let unscheduled = pod("e", "", "Pending", None, "2018-01-01T00:00:00Z");
        let all = [&old_ready, &new_ready, &not_ready, &pending, &unscheduled];
        let names: Vec<_> = to_delete(&all, &all, 4)
            .iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["e", "d", "c", "b"]);
    }
}

#[cfg(test)]
mod order_tests {
    use super::*;
    use jiff::SignedDuration;

    /// Many same-second and near-second creation times in one log bucket, with uids crossing
    /// them: the order must stay total, or Rust's sort panics (it did at 1,000 replicas).
    #[test]
    fn deletion_order_is_total_with_equal_and_bucketed_times() {
        let now = Timestamp::now();
        let pods: Vec<Pod> = (0..400)
            .map(|i| {
                let created = now - SignedDuration::from_secs(100 + (i * 7919 % 13) as i64);
                serde_json::from_value(serde_json::json!({
                    "metadata": {"name": format!("p{i}"), "uid": format!("{:04}", (i * 4099) % 400),
                                 "creationTimestamp": jiff::fmt::strtime::format("%Y-%m-%dT%H:%M:%SZ", created).unwrap()},
                    "spec": {"nodeName": "n", "containers": [{"name": "c", "image": "i"}]},
                    "status": {"phase": "Running"},
                }))
                .unwrap()
            })
            .collect();
        let refs: Vec<&Pod> = pods.iter().collect();
        let chosen = to_delete(&refs, &refs, 250);
        assert_eq!(chosen.len(), 250);
    }
}
