//! The harness of the kube-rs integration tests: an in-process API server over a temporary
//! data directory, and a `kube::Client` built from the kubeconfig it writes.
#![allow(dead_code)]

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use krust_apiserver::{Config, Running};
use krust_store::{SqliteOptions, SqliteStore, Store};
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::Status;
use kube::{Client, ResourceExt};
use serde_json::json;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

/// A running API server and a client of it. Stops the server when dropped.
pub struct TestServer {
    pub client: Client,
    pub running: Running,
    /// Holds the data directory (store, PKI, kubeconfig) for the life of the server.
    pub dir: TempDir,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.running.task.abort();
    }
}

impl TestServer {
    /// A typed namespaced API in `namespace`.
    pub fn api<K>(&self, namespace: &str) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Creates a namespace named `name`.
    pub async fn namespace(&self, name: &str) {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .expect("creating a namespace");
    }
}

/// rustls needs a process-wide crypto provider; a second install is harmless.
fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn config(dir: &TempDir) -> Config {
    Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        service_cidr: "10.43.0.0/16".into(),
    }
}

/// Builds a client from the kubeconfig the server wrote.
pub async fn client_for(running: &Running) -> Client {
    let kubeconfig = Kubeconfig::read_from(&running.kubeconfig).expect("reading the kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("loading the kubeconfig");
    Client::try_from(config).expect("building a client")
}

/// Starts a server over a fresh SQLite store in a temporary directory.
pub async fn start() -> TestServer {
    install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let running = krust_apiserver::start(config(&dir))
        .await
        .expect("starting the API server");
    let client = client_for(&running).await;
    TestServer {
        client,
        running,
        dir,
    }
}

/// Starts a server over a SQLite store opened with `options`, and returns the store too
/// (to compact it).
pub async fn start_with_options(options: SqliteOptions) -> (TestServer, Arc<SqliteStore>) {
    install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let store =
        SqliteStore::open_with(&dir.path().join("state.db"), options).expect("opening the store");
    let dyn_store: Arc<dyn Store> = store.clone();
    let running = krust_apiserver::start_with_store(config(&dir), dyn_store)
        .await
        .expect("starting the API server");
    let client = client_for(&running).await;
    (
        TestServer {
            client,
            running,
            dir,
        },
        store,
    )
}

/// A ConfigMap with `labels` and `data`.
pub fn configmap(name: &str, labels: &[(&str, &str)], data: &[(&str, &str)]) -> ConfigMap {
    let labels: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let data: BTreeMap<String, String> = data
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}, "data": data}))
        .unwrap()
}

/// A Pod with two containers, `app` and `sidecar`.
pub fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"containers": [
            {"name": "app", "image": "nginx:1.27", "env": [{"name": "A", "value": "1"}]},
            {"name": "sidecar", "image": "busybox:1.36", "command": ["sleep", "3600"]},
        ]},
    }))
    .unwrap()
}

/// A Deployment of `replicas` pods with two containers, `app` and `sidecar`.
pub fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [
                    {"name": "app", "image": "nginx:1.27"},
                    {"name": "sidecar", "image": "busybox:1.36", "command": ["sleep", "3600"]},
                ]},
            },
        },
    }))
    .unwrap()
}

/// The API Status of a failed request (panics on any other error).
pub fn status(result: Result<impl std::fmt::Debug, kube::Error>) -> Status {
    match result {
        Err(kube::Error::Api(s)) => *s,
        other => panic!("expected an API error Status, got {other:?}"),
    }
}

/// The sorted names of `objects`.
pub fn names<'a, K: ResourceExt + 'a>(objects: impl IntoIterator<Item = &'a K>) -> Vec<String> {
    let mut v: Vec<String> = objects.into_iter().map(|o| o.name_any()).collect();
    v.sort();
    v
}

/// Polls `check` every 50 ms until it yields `Some`, for at most `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The next item of `stream`, failing the test after `timeout`.
pub async fn next_within<S: futures::Stream + Unpin>(
    stream: &mut S,
    timeout: Duration,
) -> Option<S::Item> {
    use futures::StreamExt;
    tokio::time::timeout(timeout, stream.next())
        .await
        .expect("timed out waiting for the next stream item")
}
