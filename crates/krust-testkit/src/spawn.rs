//! Running a controller (or any loop) in the background of a test.

use std::future::Future;

/// A loop running in the background; aborted when dropped.
pub struct Spawned(tokio::task::JoinHandle<()>);

impl Drop for Spawned {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `f` (a controller's `run`) in the background until the handle drops; if it returns
/// an error, its task panics with `name` and the error.
pub fn spawn<F>(name: &'static str, f: F) -> Spawned
where
    F: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    Spawned(tokio::spawn(async move {
        if let Err(e) = f.await {
            panic!("{name} failed: {e:#}");
        }
    }))
}

/// Sends `tracing` output to the test's captured output, filtered by `RUST_LOG`; once per
/// process, later calls do nothing.
pub fn trace() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}
