//! The official Python client's v4 exec and port-forward.

use crate::cluster::*;
use crate::net::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The Python interpreter with the official client: `$KRUST_PYTHON`, else the build
/// directory's `target/python-venv` (what `scripts/test.sh` sets up).
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("KRUST_PYTHON") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("target/<profile>/deps/<test>");
    let python = target.join("python-venv").join("bin").join("python");
    assert!(
        python.exists(),
        "no Python with the Kubernetes client: set KRUST_PYTHON or run ./scripts/test.sh"
    );
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_execs_and_forwards_over_v4_channels() {
    let c = Cluster::start().await;
    let echo = echo_listener().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/streaming/python/stream_v4.py");
    let home = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(python())
        .arg(script)
        .arg(&c.server.running.kubeconfig)
        .arg(POD)
        .arg(echo.to_string())
        .env_remove("KUBECONFIG")
        .env("HOME", home.path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("the script ends in time")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("ok"),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
