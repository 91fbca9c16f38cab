//! Posting the Events `kubectl describe` shows, for every controller.
//!
//! ```ignore
//! let recorder = events::Recorder::new(client.clone(), "replicaset-controller");
//! recorder.normal(&events::reference(&rs), "SuccessfulCreate", "Created pod: web-x7k2p").await;
//! ```
//!
//! A [`Recorder`] posts core/v1 Events (`involvedObject`, `reason`, `message`, `type`,
//! `source.component`, `firstTimestamp`/`lastTimestamp`, `count`) for one component — the
//! `From` column of `kubectl describe` — the way client-go's recorder does:
//! - an Event repeated for the same object (same type, reason and message) bumps the `count` and
//!   `lastTimestamp` of the Event already posted (`x3 over 2m`) instead of adding one;
//! - each object gets a burst of 25 Events, then one more every 5 minutes (client-go's spam
//!   filter), so a controller creating a thousand pods does not post a thousand Events.
//!
//! Posting happens in a background task, in order: [`Recorder::normal`] and
//! [`Recorder::warning`] never wait for the API and never fail (a failed post is logged).
//! The task ends once every clone of the recorder is dropped.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource};
use serde_json::json;
use std::collections::{HashMap, VecDeque};
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

/// The reference an Event's `involvedObject` takes for `obj`.
pub fn reference<K: Resource<DynamicType = ()>>(obj: &K) -> ObjectReference {
    obj.object_ref(&())
}

struct Pending {
    object: ObjectReference,
    type_: EventType,
    reason: String,
    message: String,
    at: Timestamp,
}

/// Posts Events for one component. Cheap to clone; clones share one posting task.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::UnboundedSender<Pending>,
}

impl Recorder {
    /// A recorder whose Events say they come from `component` (e.g. `deployment-controller`).
    /// Must be called within a Tokio runtime.
    pub fn new(client: Client, component: &str) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let poster = Poster {
            client,
            component: component.to_string(),
            posted: HashMap::new(),
            posted_order: VecDeque::new(),
            buckets: HashMap::new(),
        };
        tokio::spawn(poster.run(rx));
        Self { tx }
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
        if self.tx.send(pending).is_err() {
            tracing::warn!(reason, message, "event recorder stopped; event dropped");
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
        let namespace = p
            .object
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".to_string());
        let object_name = p.object.name.clone().unwrap_or_default();
        let nanos = p.at.as_nanosecond();
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!("{object_name}.{nanos:x}")),
                namespace: Some(namespace.clone()),
                ..Default::default()
            },
            involved_object: p.object,
            reason: Some(p.reason.clone()),
            message: Some(p.message),
            type_: Some(p.type_.as_str().to_string()),
            source: Some(EventSource {
                component: Some(self.component.clone()),
                host: None,
            }),
            first_timestamp: Some(seconds(p.at)),
            last_timestamp: Some(seconds(p.at)),
            count: Some(1),
            reporting_component: Some(self.component.clone()),
            reporting_instance: Some(self.component.clone()),
            ..Default::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        match api.create(&PostParams::default(), &event).await {
            Ok(created) => {
                let posted = Posted {
                    namespace,
                    name: created.metadata.name.unwrap_or_default(),
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
            Err(error) => tracing::warn!(%error, reason = p.reason, "posting an event failed"),
        }
    }
}
