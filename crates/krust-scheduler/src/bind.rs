//! Binding (`POST pods/{name}/binding`), asynchronously: the next pod is scheduled while
//! bindings are in flight; the outcome comes back to the scheduling loop.

use std::sync::Arc;

use kube::Client;
use kube::api::{Api, PostParams};
use serde_json::json;
use tokio::sync::{Semaphore, mpsc};

use crate::events::Recorder;
use crate::podinfo::PodInfo;
use crate::view::Pod;

/// Bindings in flight at once; the scheduling loop waits for a slot beyond that.
const MAX_IN_FLIGHT: usize = 256;

/// The outcome of a binding.
pub struct Bound {
    pub pod: Arc<PodInfo>,
    pub node: String,
    pub result: Result<(), kube::Error>,
}

pub struct Binder {
    client: Client,
    in_flight: Arc<Semaphore>,
    done: mpsc::UnboundedSender<Bound>,
    recorder: Recorder,
}

/// The `Binding` object for a pod and a node.
pub fn binding(pod: &PodInfo, node: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    })
}

impl Binder {
    pub fn new(client: Client, done: mpsc::UnboundedSender<Bound>, recorder: Recorder) -> Self {
        Self {
            client,
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            done,
            recorder,
        }
    }

    /// Starts binding `pod` to `node` (waits only for a free slot). On success it posts the
    /// `Scheduled` event; either way it reports to the loop.
    pub async fn bind(&self, pod: Arc<PodInfo>, node: String) {
        let Ok(permit) = self.in_flight.clone().acquire_owned().await else {
            return;
        };
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &pod.namespace);
        let done = self.done.clone();
        let recorder = self.recorder.clone();
        tokio::spawn(async move {
            let body = binding(&pod, &node);
            let result = api
                .create_subresource::<_, serde::de::IgnoredAny>(
                    "binding",
                    &pod.name,
                    &PostParams::default(),
                    &body,
                )
                .await
                .map(|_| ());
            drop(permit);
            if result.is_ok() {
                recorder.scheduled(&pod, &node);
            }
            let _ = done.send(Bound { pod, node, result });
        });
    }
}
