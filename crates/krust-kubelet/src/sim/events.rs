//! The sim kubelet's core/v1 Events (source component `kubelet`, host = the node) through
//! `krust_component::events`: posted in the background from a bounded queue (dropped when it
//! is full) with a bound on the requests in flight, so that they never slow a pod's status.
//! Each is a new Event; none are counted or filtered.

use k8s_openapi::api::core::v1::ObjectReference;
use krust_component::events::{self, Correlation, EventType, Options, Record, Sending};
use kube::{Client, ResourceExt};

use super::view::Pod;

/// Events waiting to be posted at most; more are dropped.
const QUEUED: usize = 16_384;

/// Records a sim node's Events, or nothing when Events are off. Cheap to clone.
#[derive(Clone)]
pub struct Recorder(Option<events::Recorder>);

impl Recorder {
    /// A recorder posting with up to `concurrency` requests in flight, if `enabled`.
    pub fn new(client: Client, enabled: bool, concurrency: usize) -> Self {
        let options = Options {
            component: "kubelet".into(),
            correlation: Correlation::none(),
            sending: Sending::Queued {
                capacity: QUEUED,
                concurrency,
            },
        };
        Self(enabled.then(|| events::Recorder::with(client, options)))
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
        let Some(recorder) = &self.0 else {
            return;
        };
        recorder.emit(Record {
            object,
            type_: EventType::Normal,
            reason: reason.into(),
            message,
            action: None,
            host: Some(host.into()),
        });
    }
}
