//! The pod's `PodScheduled` condition when it fits no node: `False`, reason `Unschedulable`,
//! the scheduler's message (what `kubectl describe pod` shows under Conditions).

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use tokio::sync::Semaphore;

use crate::podinfo::PodInfo;
use crate::view::Pod;

/// Status writes in flight at once; more wait (they are rare: one per failed attempt).
const MAX_IN_FLIGHT: usize = 64;

/// Writes pods' `PodScheduled` conditions, a bounded number at once, in the background.
#[derive(Clone)]
pub struct ConditionWriter {
    client: Client,
    in_flight: Arc<Semaphore>,
}

/// The strategic merge patch that sets the condition (merged by `type` with the others).
pub fn unschedulable_patch(pod: &PodInfo, message: &str) -> Option<serde_json::Value> {
    let unchanged = pod
        .scheduled_condition
        .as_ref()
        .is_some_and(|(s, r, m)| s == "False" && r == "Unschedulable" && m == message);
    if unchanged {
        return None;
    }
    let mut cond = json!({
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": message,
        "lastProbeTime": null,
    });
    // The transition time moves only when the status does.
    if pod
        .scheduled_condition
        .as_ref()
        .is_none_or(|(s, _, _)| s != "False")
    {
        cond["lastTransitionTime"] = json!(Time(jiff::Timestamp::now()));
    }
    Some(json!({"status": {"conditions": [cond]}}))
}

impl ConditionWriter {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        }
    }

    pub fn unschedulable(&self, pod: &PodInfo, message: &str) {
        let Some(patch) = unschedulable_patch(pod, message) else {
            return;
        };
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &pod.namespace);
        let name = pod.name.clone();
        let in_flight = self.in_flight.clone();
        tokio::spawn(async move {
            let Ok(_permit) = in_flight.acquire_owned().await else {
                return;
            };
            let r = api
                .patch_status(&name, &PatchParams::default(), &Patch::Strategic(&patch))
                .await;
            match r {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => tracing::warn!(pod = %name, error = %e, "setting PodScheduled"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{info, pod};

    #[test]
    fn patches_only_changes() {
        let mut p = info(&pod("p", "", ""));
        let patch = unschedulable_patch(&p, "0/1 nodes are available").unwrap();
        let cond = &patch["status"]["conditions"][0];
        assert_eq!(cond["reason"], "Unschedulable");
        assert!(cond.get("lastTransitionTime").is_some());
        p.scheduled_condition = Some(("False".into(), "Unschedulable".into(), "old".into()));
        let patch = unschedulable_patch(&p, "0/1 nodes are available").unwrap();
        assert!(
            patch["status"]["conditions"][0]
                .get("lastTransitionTime")
                .is_none()
        );
        p.scheduled_condition = Some(("False".into(), "Unschedulable".into(), "same".into()));
        assert!(unschedulable_patch(&p, "same").is_none());
    }
}
