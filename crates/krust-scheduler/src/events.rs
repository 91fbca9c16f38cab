//! The Events the scheduler writes about pods (`Scheduled`, `FailedScheduling`), as core/v1
//! Events from `default-scheduler` that `kubectl describe pod` lists, through
//! `krust_component::events`. Recording never blocks scheduling: Events wait in a bounded
//! queue (dropped when it is full, as Kubernetes' event broadcaster drops them) for up to 256
//! requests in flight. A repeated failure with the same message bumps the `count` and
//! `lastTimestamp` of the pod's `FailedScheduling` Event instead of adding one.

use k8s_openapi::api::core::v1::ObjectReference;
use krust_component::events::{self, Correlation, EventType, Options, Record, Sending};
use kube::Client;

use crate::podinfo::{PodInfo, SCHEDULER_NAME};

/// Events posted at once; also the most waiting.
const MAX_IN_FLIGHT: usize = 256;
/// Events remembered for counting repeats.
const MAX_SERIES: usize = 50_000;

/// Records the scheduler's Events. Cheap to clone.
#[derive(Clone)]
pub struct Recorder(events::Recorder);

impl Recorder {
    /// The scheduler's recorder; its posting task runs on the current Tokio runtime.
    pub fn new(client: Client) -> Self {
        let options = Options {
            component: SCHEDULER_NAME.into(),
            correlation: Correlation {
                repeats: Some(MAX_SERIES),
                ..Correlation::none()
            },
            sending: Sending::Queued {
                capacity: MAX_IN_FLIGHT,
                concurrency: MAX_IN_FLIGHT,
                linger: std::time::Duration::ZERO,
            },
        };
        Self(events::Recorder::with(client, options))
    }

    /// `Scheduled`: `Successfully assigned default/nginx to node-1`.
    pub fn scheduled(&self, pod: &PodInfo, node: &str) {
        let message = format!("Successfully assigned {} to {node}", pod.key);
        self.emit(pod, EventType::Normal, "Scheduled", "Binding", message);
    }

    /// `FailedScheduling` with the scheduler's message.
    pub fn failed_scheduling(&self, pod: &PodInfo, message: &str) {
        let message = message.to_string();
        self.emit(
            pod,
            EventType::Warning,
            "FailedScheduling",
            "Scheduling",
            message,
        );
    }

    fn emit(&self, pod: &PodInfo, type_: EventType, reason: &str, action: &str, message: String) {
        let object = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some(pod.name.clone()),
            namespace: Some(pod.namespace.clone()),
            uid: Some(pod.uid.clone()),
            resource_version: Some(pod.resource_version.clone()).filter(|v| !v.is_empty()),
            ..Default::default()
        };
        self.0.emit(Record {
            object,
            type_,
            reason: reason.into(),
            message,
            action: Some(action.into()),
            host: None,
        });
    }
}
