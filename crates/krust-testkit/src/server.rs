//! An in-process API server over a temporary store, and an admin client of it.

use std::sync::Arc;

use krust_apiserver::{Config, Running};
use krust_store::{SqliteOptions, SqliteStore, Store};
use kube::Client;
use kube::api::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};
use tempfile::TempDir;

/// A running API server and an admin client of it. Stops the server when dropped.
pub struct TestServer {
    /// An admin client (`system:masters`) of the server, over HTTPS.
    pub client: Client,
    /// The server itself: its address, kubeconfig and task.
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
        crate::namespace(&self.client, name).await;
    }
}

/// Starts a server on a free loopback port over a fresh store in a temporary directory.
pub async fn start() -> TestServer {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let running = krust_apiserver::start(config(&dir))
        .await
        .expect("starting the API server");
    serve(running, dir).await
}

/// Starts a server over a SQLite store opened with `options`, and returns the store too (to
/// compact it).
pub async fn start_with_options(options: SqliteOptions) -> (TestServer, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store =
        SqliteStore::open_with(&dir.path().join("state.db"), options).expect("opening the store");
    let dyn_store: Arc<dyn Store> = store.clone();
    let running = krust_apiserver::start_with_store(config(&dir), dyn_store)
        .await
        .expect("starting the API server");
    (serve(running, dir).await, store)
}

/// A client built from the kubeconfig `running` wrote (installs rustls' ring provider once
/// per process).
pub async fn client_for(running: &Running) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kubeconfig = Kubeconfig::read_from(&running.kubeconfig).expect("reading the kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("loading the kubeconfig");
    Client::try_from(config).expect("building a client")
}

fn config(dir: &TempDir) -> Config {
    Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("an address"),
        service_cidr: "10.43.0.0/16".into(),
        node_ports: krust_apiserver::NODE_PORTS,
        service_account_admission: false,
    }
}

async fn serve(running: Running, dir: TempDir) -> TestServer {
    let client = client_for(&running).await;
    TestServer {
        client,
        running,
        dir,
    }
}
