//! An in-process API server for this crate's tests. (`krust-testkit` depends on this crate,
//! so these tests start a server themselves rather than through it.)

use krust_apiserver::{Config, Running};
use kube::Client;
use tempfile::TempDir;

/// A running API server and an admin client of it. Stops the server when dropped.
pub struct Server {
    pub client: Client,
    pub running: Running,
    /// Holds the data directory (store, PKI, kubeconfig) for the life of the server (not
    /// every test file reads it).
    #[allow(dead_code)]
    pub dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.running.task.abort();
    }
}

/// Starts a server on a free loopback port over a fresh store.
pub async fn start() -> Server {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("an address"),
        service_cidr: "10.43.0.0/16".into(),
    };
    let running = krust_apiserver::start(config)
        .await
        .expect("starting the API server");
    let client = krust_component::client::from_kubeconfig(&running.kubeconfig)
        .await
        .expect("a client");
    Server {
        client,
        running,
        dir,
    }
}
