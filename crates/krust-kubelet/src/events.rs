//! A kubelet's core/v1 Events (sim and real nodes; source component `kubelet`, host = the
//! node) through `krust_component::events`: posted in the background from a bounded queue
//! (dropped when it is full) with a bound on the requests in flight, so that they never slow
//! a pod's status. Sim nodes post each as a new Event; a real node correlates them as
//! client-go does (a container's repeated BackOff becomes one Event with a count) and posts
//! each a moment after it was recorded ([`LINGER`]).

use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use krust_component::events::{self, Correlation, EventType, Options, Record, Sending};
use kube::{Client, Resource, ResourceExt};

/// How long a real node's Event waits before it is posted: the writes of the moment that
/// caused it go first. A pod's status, written a few milliseconds after its container's
/// `Started` is recorded, waited behind that Event's commit (the store commits one batch at
/// a time): 1–2 ms of a pod's start here.
const LINGER: Duration = Duration::from_millis(30);

/// Events waiting to be posted at most; more are dropped.
const QUEUED: usize = 16_384;

/// Records a node's Events, or nothing when Events are off. Cheap to clone.
#[derive(Clone)]
pub struct Recorder(Option<events::Recorder>);

impl Recorder {
    /// A sim nodes' recorder posting with up to `concurrency` requests in flight, if
    /// `enabled`; nothing is correlated.
    pub fn new(client: Client, enabled: bool, concurrency: usize) -> Self {
        Self::with(
            client,
            enabled,
            concurrency,
            Correlation::none(),
            Duration::ZERO,
        )
    }

    /// A real kubelet's recorder: Events correlated as client-go's recorder does, each posted
    /// [`LINGER`] after it was recorded.
    pub fn correlated(client: Client) -> Self {
        Self::with(client, true, 8, Correlation::client_go(), LINGER)
    }

    fn with(
        client: Client,
        enabled: bool,
        concurrency: usize,
        correlation: Correlation,
        linger: Duration,
    ) -> Self {
        let options = Options {
            component: "kubelet".into(),
            correlation,
            sending: Sending::Queued {
                capacity: QUEUED,
                concurrency,
                linger,
            },
        };
        Self(enabled.then(|| events::Recorder::with(client, options)))
    }

    /// A Normal event about a container (`field` is `spec.containers{name}` or alike) or the pod.
    pub fn pod<P: Resource>(
        &self,
        pod: &P,
        host: &str,
        field: Option<String>,
        reason: &str,
        message: String,
    ) {
        self.pod_event(pod, host, field, EventType::Normal, reason, message);
    }

    /// A Warning event about a container or the pod.
    pub fn pod_warning<P: Resource>(
        &self,
        pod: &P,
        host: &str,
        field: Option<String>,
        reason: &str,
        message: String,
    ) {
        self.pod_event(pod, host, field, EventType::Warning, reason, message);
    }

    fn pod_event<P: Resource>(
        &self,
        pod: &P,
        host: &str,
        field: Option<String>,
        type_: EventType,
        reason: &str,
        message: String,
    ) {
        let object = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            namespace: pod.namespace(),
            name: Some(pod.name_any()),
            uid: pod.uid(),
            resource_version: pod.resource_version(),
            field_path: field,
        };
        self.post(object, host, type_, reason, message);
    }

    /// A Normal event about a node. Like the kubelet, the reference's uid is the node's name.
    pub fn node(&self, node: &str, reason: &str, message: String) {
        let object = ObjectReference {
            kind: Some("Node".into()),
            name: Some(node.into()),
            uid: Some(node.into()),
            ..Default::default()
        };
        self.post(object, node, EventType::Normal, reason, message);
    }

    /// A Warning event about a Service, from the node's service proxy (a health check port
    /// it could not open). As kube-proxy, the reference's uid is `namespace/name`.
    pub fn service_warning(
        &self,
        namespace: &str,
        name: &str,
        host: &str,
        reason: &str,
        message: String,
    ) {
        let object = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Service".into()),
            namespace: Some(namespace.into()),
            name: Some(name.into()),
            uid: Some(format!("{namespace}/{name}")),
            ..Default::default()
        };
        self.post(object, host, EventType::Warning, reason, message);
    }

    /// Posts a record made elsewhere (the image manager's Events).
    pub fn emit(&self, record: Record) {
        if let Some(recorder) = &self.0 {
            recorder.emit(record);
        }
    }

    fn post(
        &self,
        object: ObjectReference,
        host: &str,
        type_: EventType,
        reason: &str,
        message: String,
    ) {
        let Some(recorder) = &self.0 else {
            return;
        };
        recorder.emit(Record {
            object,
            type_,
            reason: reason.into(),
            message,
            action: None,
            host: Some(host.into()),
        });
    }
}
