//! The one Event recorder: what client-go's `tools/record` package (the `EventRecorder`, the
//! broadcaster and its sink) does for Kubernetes' components, here for every krust component.
//!
//! ```ignore
//! let recorder = events::Recorder::new(client.clone(), "replicaset-controller");
//! recorder.normal(&events::reference(&rs), "SuccessfulCreate", "Created pod: web-x7k2p").await;
//! ```
//!
//! A [`Recorder`] posts core/v1 Events (`involvedObject`, `reason`, `message`, `type`,
//! `action`, `source`, `reportingComponent`, `reportingInstance`,
//! `firstTimestamp`/`lastTimestamp`, `count`) for one component — the `From` column of
//! `kubectl describe`. Events about cluster-scoped objects go to `default`, as Kubernetes puts
//! them. Its policies are [`Options`]:
//! - [`Correlation`] (`correlator.rs`, client-go's `EventCorrelator`): repeats of one Event
//!   counted in the Event already posted (`x3 over 2m`), similar Events combined, and a spam
//!   filter per object; or none of these.
//! - [`Sending`]: [`Sending::Queued`] posts from a background task through a bounded queue
//!   (recording never waits for the API; when the queue is full the Event is dropped, as
//!   client-go's broadcaster drops Events), with a bound on the requests in flight, and
//!   optionally each Event a moment after it was recorded (the real kubelet's: the writes it
//!   goes with, a pod's status after its container's `Started`, reach the store first rather
//!   than queue behind it); [`Sending::Direct`] posts before recording returns.
//!
//! Its users: the controllers ([`Recorder::new`], client-go's defaults, or
//! [`Recorder::direct`]), the scheduler and the sim kubelet ([`Recorder::with`]). Recording
//! never fails: a failed post is logged, as an Event is never worth failing a reconcile for.
//! Created Events are not decoded (the answer is of no use), which keeps recording cheap.

mod build;
mod correlator;
mod send;

pub use correlator::{Correlation, Similar, SpamFilter};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::{Client, Resource};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicI64;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};

/// The `type` of an Event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Nothing to worry about.
    Normal,
    /// Something may be wrong.
    Warning,
}

impl EventType {
    /// The `type` field's value.
    pub fn as_str(self) -> &'static str {
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

/// One Event to record.
#[derive(Clone, Debug)]
pub struct Record {
    /// What the Event is about (`involvedObject`).
    pub object: ObjectReference,
    /// `type`.
    pub type_: EventType,
    /// `reason`: a short CamelCase word (`Scheduled`, `SuccessfulCreate`).
    pub reason: String,
    /// `message`: for people.
    pub message: String,
    /// `action` (the scheduler's `Binding`); most components leave it out.
    pub action: Option<String>,
    /// `source.host` and `reportingInstance` (the kubelet's node); without it the
    /// `reportingInstance` is the component.
    pub host: Option<String>,
}

impl Record {
    /// An Event of `type_` about `object`, without action or host.
    pub fn new(object: ObjectReference, type_: EventType, reason: &str, message: &str) -> Self {
        Record {
            object,
            type_,
            reason: reason.to_string(),
            message: message.to_string(),
            action: None,
            host: None,
        }
    }
}

/// How a [`Recorder`] posts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sending {
    /// Each Event is posted before recording returns.
    Direct,
    /// Events wait in a queue of `capacity` (more are dropped) for a background task that
    /// posts them, in order, with up to `concurrency` requests in flight.
    Queued {
        /// The most Events waiting; more are dropped.
        capacity: usize,
        /// The most requests in flight (1: one after the other).
        concurrency: usize,
        /// How long each Event waits before it is posted (its timestamps are when it was
        /// recorded).
        linger: Duration,
    },
}

/// A recorder's policies.
#[derive(Clone, Debug)]
pub struct Options {
    /// `source.component` and `reportingComponent` (e.g. `deployment-controller`).
    pub component: String,
    /// What is counted, combined and filtered.
    pub correlation: Correlation,
    /// How Events are posted.
    pub sending: Sending,
}

/// Posts Events for one component. Cheap to clone; clones share one queue and correlator.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<send::Sink>,
    /// The queue of a [`Sending::Queued`] recorder; its task ends once every clone is gone.
    queue: Option<mpsc::Sender<(Record, Timestamp)>>,
}

impl Recorder {
    /// A recorder as client-go's default one: repeats counted, a spam filter per object
    /// ([`Correlation::counting`]), posted one after the other from a queue of 1,000. Must be
    /// called within a Tokio runtime.
    pub fn new(client: Client, component: &str) -> Self {
        let sending = Sending::Queued {
            capacity: 1000,
            concurrency: 1,
            linger: Duration::ZERO,
        };
        Self::with(client, options(component, Correlation::counting(), sending))
    }

    /// A recorder that posts every Event as a new one before recording returns: repeats are
    /// not counted and there is no spam filter.
    pub fn direct(client: Client, component: &str) -> Self {
        Self::with(
            client,
            options(component, Correlation::none(), Sending::Direct),
        )
    }

    /// A recorder with explicit policies. A [`Sending::Queued`] one must be made within a
    /// Tokio runtime (its task runs there).
    pub fn with(client: Client, options: Options) -> Self {
        let correlator = options
            .correlation
            .enabled()
            .then(|| Mutex::new(correlator::Correlator::new(options.correlation.clone())));
        let inner = Arc::new(send::Sink {
            client,
            component: options.component,
            correlator,
            stamps: AtomicI64::new(0),
        });
        let queue = match options.sending {
            Sending::Direct => None,
            Sending::Queued {
                capacity,
                concurrency,
                linger,
            } => {
                let (tx, rx) = mpsc::channel(capacity.max(1));
                let limit = Arc::new(Semaphore::new(concurrency.max(1)));
                tokio::spawn(send::run(inner.clone(), rx, limit, linger));
                Some(tx)
            }
        };
        Recorder { inner, queue }
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
        self.post(Record::new(object.clone(), type_, reason, message))
            .await;
    }

    /// Records `record`: queues it (a [`Sending::Queued`] recorder; returns at once) or posts
    /// it (a [`Sending::Direct`] one).
    pub async fn post(&self, record: Record) {
        match &self.queue {
            Some(_) => self.emit(record),
            None => self.inner.write(record, Timestamp::now()).await,
        }
    }

    /// Records `record` without waiting: queues it, or drops it if the queue is full. A
    /// [`Sending::Direct`] recorder posts it from a task of its own (within a Tokio runtime).
    pub fn emit(&self, record: Record) {
        let at = Timestamp::now();
        match &self.queue {
            Some(queue) => {
                if let Err(e) = queue.try_send((record, at)) {
                    let (record, _) = e.into_inner();
                    tracing::debug!(reason = record.reason, "event queue full: dropped");
                }
            }
            None => {
                let inner = self.inner.clone();
                tokio::spawn(async move { inner.write(record, at).await });
            }
        }
    }
}

fn options(component: &str, correlation: Correlation, sending: Sending) -> Options {
    Options {
        component: component.to_string(),
        correlation,
        sending,
    }
}
