//! Kubelet-style core/v1 Events (source component `kubelet`, host = the node), posted in the
//! background with bounded concurrency so that they never slow a pod's status.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};
use tokio::sync::Semaphore;

use super::view::Pod;

#[derive(Clone)]
pub struct Recorder {
    client: Client,
    enabled: bool,
    limit: Arc<Semaphore>,
    /// Last nanosecond stamp used in a name: names are `<object>.<hex nanos>`, made unique.
    last: Arc<AtomicI64>,
}

impl Recorder {
    pub fn new(client: Client, enabled: bool, concurrency: usize) -> Self {
        Self {
            client,
            enabled,
            limit: Arc::new(Semaphore::new(concurrency.max(1))),
            last: Arc::new(AtomicI64::new(0)),
        }
    }

    /// A Normal event about a container (`field` is `spec.containers{name}` or alike) or the pod.
    pub fn pod(&self, pod: &Pod, host: &str, field: Option<String>, reason: &str, message: String) {
        let object = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            namespace: pod.namespace(),
            name: Some(pod.name_any()),
            uid: pod.uid(),
            resource_version: pod.resource_version(),
            field_path: field,
        };
        self.post(object, host, reason, message);
    }

    /// A Normal event about a node. Like the kubelet, the reference's uid is the node's name.
    pub fn node(&self, node: &str, reason: &str, message: String) {
        let object = ObjectReference {
            kind: Some("Node".into()),
            name: Some(node.into()),
            uid: Some(node.into()),
            ..Default::default()
        };
        self.post(object, node, reason, message);
    }

    fn post(&self, object: ObjectReference, host: &str, reason: &str, message: String) {
        if !self.enabled {
            return;
        }
        let now = jiff::Timestamp::now();
        let nanos = now.as_nanosecond() as i64;
        let next = |last: i64| nanos.max(last + 1);
        let prev = self
            .last
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| Some(next(l)));
        let stamp = next(prev.unwrap_or_else(|l| l));
        let namespace = object.namespace.clone().unwrap_or_else(|| "default".into());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!(
                    "{}.{stamp:x}",
                    object.name.as_deref().unwrap_or("sim")
                )),
                namespace: Some(namespace.clone()),
                ..Default::default()
            },
            involved_object: object,
            reason: Some(reason.into()),
            message: Some(message),
            source: Some(EventSource {
                component: Some("kubelet".into()),
                host: Some(host.into()),
            }),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            type_: Some("Normal".into()),
            reporting_component: Some("kubelet".into()),
            reporting_instance: Some(host.into()),
            ..Default::default()
        };
        let (client, limit) = (self.client.clone(), self.limit.clone());
        tokio::spawn(async move {
            let Ok(_permit) = limit.acquire().await else {
                return;
            };
            let api: Api<Event> = Api::namespaced(client, &namespace);
            if let Err(e) = api.create(&PostParams::default(), &event).await {
                tracing::debug!(error = %e, "posting an event");
            }
        });
    }
}
