//! Test support: an in-process API server over a temporary store, and a kube-rs client of it.
#![forbid(unsafe_code)]

use krust_apiserver::{Config, Running};
use kube::Client;
use tempfile::TempDir;

/// A running API server and an admin client of it. Stops the server when dropped.
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

/// Starts a server on a free loopback port over a fresh store.
pub async fn start() -> TestServer {
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
    TestServer {
        client,
        running,
        dir,
    }
}

/// Polls `check` every 50 ms until it yields a value; panics ("timed out waiting for
/// `what`") after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: std::time::Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
