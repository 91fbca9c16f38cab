//! Posting: the part of client-go's `recordToSink` that writes an Event (a create, or a patch
//! of `count` and `lastTimestamp` for a repeat, created afresh if it is gone), and the
//! background task of a queued recorder (client-go's broadcaster goroutine).

use super::Record;
use super::build;
use super::correlator::Correlator;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Event;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde::de::IgnoredAny;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};
use tokio::sync::{Semaphore, mpsc};

/// What a recorder's clones share.
pub(super) struct Sink {
    pub(super) client: Client,
    pub(super) component: String,
    /// `None` when every Event is posted as a new one.
    pub(super) correlator: Option<Mutex<Correlator>>,
    /// The last stamp given to an Event's name.
    pub(super) stamps: AtomicI64,
}

/// One request to make.
struct Write {
    event: Event,
    /// A repeat: patch the Event of this name (its `count` is the new count).
    repeat: bool,
}

impl Sink {
    /// Posts `record` (made at `at`) now.
    pub(super) async fn write(&self, record: Record, at: Timestamp) {
        if let Some(write) = self.prepare(record, at) {
            write.send(&self.client).await;
        }
    }

    /// Correlates `record` and builds its request; `None` if the spam filter holds it back.
    fn prepare(&self, mut record: Record, at: Timestamp) -> Option<Write> {
        let name = build::name(&record.object, &self.component, &self.stamps, at);
        let (name, count) = match &self.correlator {
            None => (name, 1),
            Some(c) => {
                let mut c = c.lock().expect("correlator lock");
                c.correlate(
                    &mut record,
                    &self.component,
                    name,
                    std::time::Instant::now(),
                )?
            }
        };
        Some(Write {
            event: build::event(&self.component, record, name, count, at),
            repeat: count > 1,
        })
    }
}

impl Write {
    /// Sends the request; failures are logged.
    async fn send(self, client: &Client) {
        let namespace = self.event.metadata.namespace.clone().unwrap_or_default();
        let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
        if self.repeat {
            match patch(client, &api, &self.event).await {
                Ok(()) => return,
                // Gone (expired, or never created): post it afresh.
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(error) => {
                    tracing::warn!(%error, reason = self.event.reason, "updating an event failed");
                    return;
                }
            }
        }
        let created = match create(client, &api, &self.event).await {
            // A repeat whose first create landed meanwhile: update that one.
            Err(kube::Error::Api(s)) if s.code == 409 && self.repeat => {
                patch(client, &api, &self.event).await
            }
            other => other,
        };
        if let Err(error) = created {
            tracing::warn!(%error, reason = self.event.reason, "posting an event failed");
        }
    }
}

/// Creates `event`; the answer is not decoded.
async fn create(client: &Client, api: &Api<Event>, event: &Event) -> Result<(), kube::Error> {
    let body = serde_json::to_vec(event).map_err(kube::Error::SerdeError)?;
    let request = kube::core::Request::new(api.resource_url())
        .create(&PostParams::default(), body)
        .map_err(kube::Error::BuildRequest)?;
    client.request::<IgnoredAny>(request).await.map(drop)
}

/// Sets the `count`, `lastTimestamp` and `message` of the Event named as `event`.
async fn patch(client: &Client, api: &Api<Event>, event: &Event) -> Result<(), kube::Error> {
    let patch = serde_json::json!({
        "count": event.count,
        "lastTimestamp": event.last_timestamp,
        "message": event.message,
    });
    let name = event.metadata.name.as_deref().unwrap_or_default();
    let request = kube::core::Request::new(api.resource_url())
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .map_err(kube::Error::BuildRequest)?;
    client.request::<IgnoredAny>(request).await.map(drop)
}

/// A queued recorder's task: correlates each Event in order, then posts it `linger` after
/// it came, with up to `limit` requests in flight. Ends when every sender is gone.
pub(super) async fn run(
    sink: Arc<Sink>,
    mut queue: mpsc::Receiver<(Record, Timestamp)>,
    limit: Arc<Semaphore>,
    linger: std::time::Duration,
) {
    while let Some((record, at)) = queue.recv().await {
        let due = tokio::time::Instant::now() + linger;
        let Some(write) = sink.prepare(record, at) else {
            continue;
        };
        let Ok(permit) = limit.clone().acquire_owned().await else {
            return;
        };
        let client = sink.client.clone();
        tokio::spawn(async move {
            if !linger.is_zero() {
                tokio::time::sleep_until(due).await;
            }
            write.send(&client).await;
            drop(permit);
        });
    }
}
