//! Watches of nodes, pods (not finished) and namespaces, feeding the scheduling loop. Each
//! watch relists and resumes by itself (kube-runtime's watcher with backoff).

use futures::{Stream, StreamExt};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::view::{Namespace, Node, Pod};

/// A change seen by one of the watches.
pub enum Update {
    Node(Box<watcher::Event<Node>>),
    Pod(Box<watcher::Event<Pod>>),
    Namespace(Box<watcher::Event<Namespace>>),
}

/// Pods that hold resources: finished ones (`Succeeded`, `Failed`) leave the selection.
pub const POD_FIELD_SELECTOR: &str = "status.phase!=Succeeded,status.phase!=Failed";

fn forward<K, S>(
    stream: S,
    tx: mpsc::Sender<Update>,
    wrap: fn(watcher::Event<K>) -> Update,
    what: &'static str,
) -> JoinHandle<()>
where
    K: Send + 'static,
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            match item {
                Ok(ev) => {
                    if tx.send(wrap(ev)).await.is_err() {
                        return;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "watching {what}"),
            }
        }
    })
}

fn watch<K>(
    api: Api<K>,
    config: watcher::Config,
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
    K::DynamicType: Default,
{
    watcher(api, config).default_backoff()
}

/// Starts the watches; they run until the receiver is dropped.
pub fn spawn(client: &Client, tx: mpsc::Sender<Update>) -> Vec<JoinHandle<()>> {
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::all(client.clone());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    vec![
        forward(
            watch(nodes, watcher::Config::default()),
            tx.clone(),
            |e| Update::Node(Box::new(e)),
            "nodes",
        ),
        forward(
            watch(pods, watcher::Config::default().fields(POD_FIELD_SELECTOR)),
            tx.clone(),
            |e| Update::Pod(Box::new(e)),
            "pods",
        ),
        forward(
            watch(namespaces, watcher::Config::default()),
            tx,
            |e| Update::Namespace(Box::new(e)),
            "namespaces",
        ),
    ]
}
