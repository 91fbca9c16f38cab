//! Posting the Events `kubectl describe` shows, for every controller.
//!
//! ```ignore
//! let recorder = events::Recorder::new(client.clone(), "replicaset-controller");
//! recorder.normal(&events::reference(&rs), "SuccessfulCreate", "Created pod: web-x7k2p").await;
//! ```
//!
//! A [`Recorder`] posts core/v1 Events (`involvedObject`, `reason`, `message`, `type`,
//! `source.component`, `reportingComponent`, `firstTimestamp`/`lastTimestamp`, `count`) for one
//! component — the `From` column of `kubectl describe`. Events about cluster-scoped objects go
//! to `default`, as Kubernetes puts them. There are two kinds of recorder:
//! - [`Recorder::new`] (the ReplicaSet and Deployment controllers) posts the way client-go's
//!   recorder does:
//!   - an Event repeated for the same object (same type, reason and message) bumps the `count`
//!     and `lastTimestamp` of the Event already posted (`x3 over 2m`) instead of adding one;
//!   - each object gets a burst of 25 Events, then one more every 5 minutes (client-go's spam
//!     filter), so a controller creating a thousand pods does not post a thousand Events.
//!
//!   Posting happens in a background task, in order: [`Recorder::normal`] and
//!   [`Recorder::warning`] never wait for the API. The task ends once every clone of the
//!   recorder is dropped.
//! - [`Recorder::direct`] (the endpoints, EndpointSlice, node IPAM and node lifecycle
//!   controllers) posts every Event as a new one (`count` 1, no spam filter) before
//!   [`Recorder::normal`] or [`Recorder::warning`] returns.
//!
//! Either way, recording never fails: a failed post is logged, as an Event is never worth
//! failing a reconcile for. The `involvedObject` is [`reference`] or, with the object's
//! `resourceVersion`, [`versioned_reference`].

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource};
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Events an object may get at once before the spam filter holds them back.
const BURST: f64 = 25.0;
/// One more Event per object is let through every this often.
const REFILL: Duration = Duration::from_secs(300);
/// Remembered Events (for counting repeats) and objects (for the spam filter).
const REMEMBERED: usize = 4096;

/// The `type` of an Event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

/// The reference an Event's `involvedObject` takes for `obj`: apiVersion, kind, namespace,
/// name and uid.
pub fn reference<K: Resource<DynamicType = ()>>(obj: &K) -> ObjectReference {
    obj.object_ref(&())
}

/// [`reference`] plus the object's `resourceVersion` (what the endpoints, EndpointSlice, node
/// IPAM and node lifecycle controllers send).
pub fn versioned_reference<K: Resource<DynamicType = ()>>(obj: &K) -> ObjectReference {
    ObjectReference {
        resource_version: obj.meta().resource_version.clone(),
        ..reference(obj)
    }
}

struct Pending {
    object: ObjectReference,
    type_: EventType,
    reason: String,
    message: String,
    at: Timestamp,
}

/// Posts Events for one component. Cheap to clone; the clones of a [`Recorder::new`] share one
/// posting task.
#[derive(Clone)]
pub struct Recorder {
    client: Client,
    component: Arc<str>,
    /// The posting task that counts repeats; `None` for a [`Recorder::direct`] recorder.
    counting: Option<mpsc::UnboundedSender<Pending>>,
}

impl Recorder {
    /// A recorder whose Events say they come from `component` (e.g. `deployment-controller`),
    /// counting repeats and spam-filtered, posted in the background. Must be called within a
    /// Tokio runtime.
    pub fn new(client: Client, component: &str) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let poster = Poster {
            client: client.clone(),
            component: component.to_string(),
            posted: HashMap::new(),
            posted_order: VecDeque::new(),
            buckets: HashMap::new(),
        };
        tokio::spawn(poster.run(rx));
        Self {
            client,
            component: component.into(),
            counting: Some(tx),
        }
    }

    /// A recorder whose Events say they come from `component`, each posted as a new Event
    /// before recording returns: repeats are not counted and there is no spam filter.
    pub fn direct(client: Client, component: &str) -> Self {
        Self {
            client,
            component: component.into(),
            counting: None,
        }
    }

    /// Records a `Normal` Event about `object`.
    pub async fn normal(&self, object: &ObjectReference, reason: &str, message: &str) {
        self.record(object, EventType::Normal, reason, message)
            .await;
    }

    /// Records a `Warning` Event about `object`.
    pub async fn warning(&self, object: &ObjectReference, reason: &str, message: &str) {
        self.record(object, EventType::Warning, reason, message)
            .await;
    }

    /// Records an Event about `object`.
    pub async fn record(
        &self,
        object: &ObjectReference,
        type_: EventType,
        reason: &str,
        message: &str,
    ) {
        let pending = Pending {
            object: object.clone(),
            type_,
            reason: reason.to_string(),
            message: message.to_string(),
            at: Timestamp::now(),
        };
        match &self.counting {
            Some(tx) => {
                if tx.send(pending).is_err() {
                    tracing::warn!(reason, message, "event recorder stopped; event dropped");
                }
            }
            None => {
                if let Err(error) = create(&self.client, &self.component, pending).await {
                    tracing::debug!(%error, reason, "posting an event failed");
                }
            }
        }
    }
}

/// What identifies repeats of one Event.
#[derive(Clone, PartialEq, Eq, Hash)]
struct EventKey {
    object: (String, String, String, String, String),
    type_: &'static str,
    reason: String,
    message: String,
}

struct Posted {
    namespace: String,
    name: String,
    count: i32,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

struct Poster {
    client: Client,
    component: String,
    posted: HashMap<EventKey, Posted>,
    posted_order: VecDeque<EventKey>,
    buckets: HashMap<(String, String, String, String), Bucket>,
}

fn object_key(o: &ObjectReference) -> (String, String, String, String, String) {
    (
        o.api_version.clone().unwrap_or_default(),
        o.kind.clone().unwrap_or_default(),
        o.namespace.clone().unwrap_or_default(),
        o.name.clone().unwrap_or_default(),
        o.uid.clone().unwrap_or_default(),
    )
}

fn seconds(t: Timestamp) -> Time {
    Time(Timestamp::from_second(t.as_second()).unwrap_or(t))
}

impl Poster {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Pending>) {
        while let Some(p) = rx.recv().await {
            if self.allowed(&p.object) {
                self.post(p).await;
            }
        }
    }

    /// The spam filter: a token bucket per object.
    fn allowed(&mut self, o: &ObjectReference) -> bool {
        let (_, kind, namespace, name, uid) = object_key(o);
        let now = Instant::now();
        if self.buckets.len() >= REMEMBERED {
            // Buckets that have refilled are the same as no bucket.
            let full = REFILL.mul_f64(BURST);
            self.buckets.retain(|_, b| now.duration_since(b.at) < full);
        }
        let b = self
            .buckets
            .entry((kind, namespace, name, uid))
            .or_insert(Bucket {
                tokens: BURST,
                at: now,
            });
        let refill = now.duration_since(b.at).as_secs_f64() / REFILL.as_secs_f64();
        b.tokens = (b.tokens + refill).min(BURST);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    async fn post(&mut self, p: Pending) {
        let key = EventKey {
            object: object_key(&p.object),
            type_: p.type_.as_str(),
            reason: p.reason.clone(),
            message: p.message.clone(),
        };
        if let Some(prev) = self.posted.get(&key) {
            let api: Api<Event> = Api::namespaced(self.client.clone(), &prev.namespace);
            let patch = json!({"count": prev.count + 1, "lastTimestamp": seconds(p.at)});
            match api
                .patch(&prev.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {
                    if let Some(prev) = self.posted.get_mut(&key) {
                        prev.count += 1;
                    }
                    return;
                }
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(error) => {
                    tracing::warn!(%error, reason = p.reason, "updating an event failed");
                    return;
                }
            }
        }
        match create(&self.client, &self.component, p).await {
            Ok((namespace, name)) => {
                let posted = Posted {
                    namespace,
                    name,
                    count: 1,
                };
                if self.posted.insert(key.clone(), posted).is_none() {
                    self.posted_order.push_back(key);
                    if self.posted_order.len() > REMEMBERED
                        && let Some(old) = self.posted_order.pop_front()
                    {
                        self.posted.remove(&old);
                    }
                }
            }
            Err(error) => tracing::warn!(%error, reason = key.reason, "posting an event failed"),
        }
    }
}

/// The new Event (`count` 1) `p` is, from `component`.
fn new_event(component: &str, p: Pending) -> Event {
    // Events about cluster-scoped objects live in `default`, as Kubernetes' recorder puts them.
    let namespace = p
        .object
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".to_string());
    let object_name = p.object.name.as_deref().unwrap_or(component);
    let nanos = p.at.as_nanosecond();
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{object_name}.{nanos:x}")),
            namespace: Some(namespace),
            ..Default::default()
        },
        involved_object: p.object,
        reason: Some(p.reason),
        message: Some(p.message),
        type_: Some(p.type_.as_str().to_string()),
        source: Some(EventSource {
            component: Some(component.to_string()),
            host: None,
        }),
        first_timestamp: Some(seconds(p.at)),
        last_timestamp: Some(seconds(p.at)),
        count: Some(1),
        reporting_component: Some(component.to_string()),
        reporting_instance: Some(component.to_string()),
        ..Default::default()
    }
}

/// Posts `p` as a new Event from `component`; returns the namespace and name it got.
async fn create(
    client: &Client,
    component: &str,
    p: Pending,
) -> Result<(String, String), kube::Error> {
    let event = new_event(component, p);
    let namespace = event.metadata.namespace.clone().unwrap_or_default();
    let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
    let created = api.create(&PostParams::default(), &event).await?;
    Ok((namespace, created.metadata.name.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
    use kube::api::ListParams;

    fn pod() -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("shop".into()),
                uid: Some("u-1".into()),
                resource_version: Some("42".into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn pending(object: ObjectReference) -> Pending {
        Pending {
            object,
            type_: EventType::Warning,
            reason: "Broke".into(),
            message: "Broke it".into(),
            at: "2025-01-02T03:04:05.678Z".parse().unwrap(),
        }
    }

    #[test]
    fn references_with_and_without_the_resource_version() {
        let plain = reference(&pod());
        let expected = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some("web".into()),
            namespace: Some("shop".into()),
            uid: Some("u-1".into()),
            ..Default::default()
        };
        assert_eq!(plain, expected);
        let versioned = ObjectReference {
            resource_version: Some("42".into()),
            ..expected
        };
        assert_eq!(versioned_reference(&pod()), versioned);
    }

    #[test]
    fn new_events_carry_the_component_and_land_in_the_object_namespace() {
        let event = new_event("node-controller", pending(versioned_reference(&pod())));
        let name = event.metadata.name.clone().unwrap();
        let nanos: i128 = "2025-01-02T03:04:05.678Z"
            .parse::<Timestamp>()
            .unwrap()
            .as_nanosecond();
        assert_eq!(name, format!("web.{nanos:x}"));
        let wire = serde_json::to_value(&event).unwrap();
        assert_eq!(
            wire,
            json!({
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": "shop"},
                "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": "web",
                    "namespace": "shop", "uid": "u-1", "resourceVersion": "42"},
                "reason": "Broke",
                "message": "Broke it",
                "type": "Warning",
                "source": {"component": "node-controller"},
                "firstTimestamp": "2025-01-02T03:04:05Z",
                "lastTimestamp": "2025-01-02T03:04:05Z",
                "count": 1,
                "reportingComponent": "node-controller",
                "reportingInstance": "node-controller",
            })
        );
    }

    #[test]
    fn events_about_cluster_scoped_or_nameless_objects() {
        let node = Node {
            metadata: ObjectMeta {
                name: Some("n1".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let event = new_event("node-ipam-controller", pending(reference(&node)));
        assert_eq!(event.metadata.namespace.as_deref(), Some("default"));
        assert!(event.metadata.name.unwrap().starts_with("n1."));
        let nameless = new_event("c", pending(ObjectReference::default()));
        assert_eq!(nameless.metadata.namespace.as_deref(), Some("default"));
        assert!(nameless.metadata.name.unwrap().starts_with("c."));
    }

    /// A direct recorder's Event exists once recording returns, and repeats are new Events.
    #[tokio::test]
    async fn direct_recorders_post_every_event_at_once() {
        let server = krust_testkit::start().await;
        let client = server.client.clone();
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some("cm".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let cm = Api::<ConfigMap>::default_namespaced(client.clone())
            .create(&PostParams::default(), &cm)
            .await
            .unwrap();
        let recorder = Recorder::direct(client.clone(), "direct-component");
        let object = versioned_reference(&cm);
        for _ in 0..2 {
            recorder.warning(&object, "Poked", "Poked it").await;
        }
        let events = Api::<Event>::default_namespaced(client)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items;
        assert_eq!(events.len(), 2, "{events:?}");
        for e in events {
            assert_eq!(e.count, Some(1));
            assert_eq!(e.involved_object, object);
            assert_eq!(e.type_.as_deref(), Some("Warning"));
            assert_eq!(
                e.source.and_then(|s| s.component).as_deref(),
                Some("direct-component")
            );
        }
    }
}
