//! Events about pods (`Scheduled`, `FailedScheduling`) as core/v1 Events from
//! `default-scheduler`, which `kubectl describe pod` lists. Posting never blocks scheduling:
//! each event is its own request, and when too many are in flight new ones are dropped, as
//! Kubernetes' event broadcaster drops events when its queue is full. A repeated failure
//! with the same message updates the pod's last `FailedScheduling` event (`count`,
//! `lastTimestamp`) instead of adding one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde::de::IgnoredAny;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::podinfo::{PodInfo, SCHEDULER_NAME};

/// Events being posted at once; more are dropped.
const MAX_IN_FLIGHT: usize = 256;
/// Pods whose last failure is remembered for deduplication.
const MAX_SERIES: usize = 50_000;

struct Series {
    name: String,
    message: String,
    count: i32,
}

#[derive(Clone)]
pub struct Recorder {
    client: Client,
    in_flight: Arc<Semaphore>,
    /// The last `FailedScheduling` event per pod uid.
    series: Arc<Mutex<HashMap<String, Series>>>,
}

impl Recorder {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            series: Arc::default(),
        }
    }

    /// `Scheduled`: `Successfully assigned default/nginx to node-1`.
    pub fn scheduled(&self, pod: &PodInfo, node: &str) {
        self.series.lock().expect("series lock").remove(&pod.uid);
        let message = format!("Successfully assigned {} to {node}", pod.key);
        self.create(pod, "Normal", "Scheduled", "Binding", message);
    }

    /// `FailedScheduling` with the scheduler's message.
    pub fn failed_scheduling(&self, pod: &PodInfo, message: &str) {
        let repeat = {
            let mut series = self.series.lock().expect("series lock");
            match series.get_mut(&pod.uid) {
                Some(s) if s.message == message => {
                    s.count += 1;
                    Some((s.name.clone(), s.count))
                }
                _ => {
                    if series.len() >= MAX_SERIES {
                        series.clear();
                    }
                    None
                }
            }
        };
        match repeat {
            Some((name, count)) => self.bump(pod, name, count),
            None => {
                let name = self.create(
                    pod,
                    "Warning",
                    "FailedScheduling",
                    "Scheduling",
                    message.to_string(),
                );
                if let Some(name) = name {
                    self.series.lock().expect("series lock").insert(
                        pod.uid.clone(),
                        Series {
                            name,
                            message: message.to_string(),
                            count: 1,
                        },
                    );
                }
            }
        }
    }

    /// Posts a new Event; returns its name, or `None` if it was dropped.
    fn create(
        &self,
        pod: &PodInfo,
        type_: &str,
        reason: &str,
        action: &str,
        message: String,
    ) -> Option<String> {
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            tracing::debug!(pod = %pod.key, reason, "too many events in flight: dropped");
            return None;
        };
        let now = jiff::Timestamp::now();
        let name = format!("{}.{:x}", pod.name, now.as_nanosecond());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(pod.namespace.clone()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: Some(pod.name.clone()),
                namespace: Some(pod.namespace.clone()),
                uid: Some(pod.uid.clone()),
                resource_version: Some(pod.resource_version.clone()).filter(|v| !v.is_empty()),
                ..Default::default()
            },
            reason: Some(reason.into()),
            message: Some(message),
            type_: Some(type_.into()),
            action: Some(action.into()),
            source: Some(EventSource {
                component: Some(SCHEDULER_NAME.into()),
                host: None,
            }),
            reporting_component: Some(SCHEDULER_NAME.into()),
            reporting_instance: Some(SCHEDULER_NAME.into()),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            ..Default::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &pod.namespace);
        let client = self.client.clone();
        tokio::spawn(async move {
            // The answer (the Event as stored) is of no use: it is not decoded.
            let sent = async {
                let body = serde_json::to_vec(&event).map_err(kube::Error::SerdeError)?;
                let request = kube::core::Request::new(api.resource_url())
                    .create(&PostParams::default(), body)
                    .map_err(kube::Error::BuildRequest)?;
                client.request::<IgnoredAny>(request).await
            };
            if let Err(e) = sent.await {
                tracing::warn!(error = %e, "posting an event");
            }
            drop(permit);
        });
        Some(name)
    }

    /// Counts one more occurrence of a pod's last event.
    fn bump(&self, pod: &PodInfo, name: String, count: i32) {
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            return;
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &pod.namespace);
        let patch = json!({"count": count, "lastTimestamp": Time(jiff::Timestamp::now())});
        tokio::spawn(async move {
            if let Err(e) = api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                tracing::warn!(error = %e, event = %name, "updating an event");
            }
            drop(permit);
        });
    }
}
