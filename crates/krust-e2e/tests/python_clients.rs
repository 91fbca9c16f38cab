//! The Python clients users reach for, against `krust server --sim-nodes 2`: the official
//! Kubernetes client (`kubernetes` on PyPI) and kr8s, each running a script of
//! `tests/python/` with the server's admin kubeconfig.
//!
//! They hold what these clients depend on and kubectl does not show: the trailing-slash
//! paths (`/version/`, `/api/`, `/apis/`; kr8s asks `/version/` before anything else),
//! Status bodies compared as text (kube-apiserver's member order and trailing newline), PUT
//! without a resourceVersion answering no 409, and managedFields of a `/status` write naming
//! that subresource, boolean query parameters spelt as Python spells them (`watch=True`).
//!
//! The interpreter is `$KRUST_PYTHON` if set, else `target/python-venv/bin/python`; both are
//! what `scripts/test.sh` sets up (a virtualenv with the pinned clients of
//! `tests/python/requirements.txt`). Without either the tests fail: CI runs them all.

use krust_e2e::{Cluster, run_with_timeout, tail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How long one script may run (a rollout on sim nodes included).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

/// The Python interpreter with the clients installed.
///
/// # Panics
/// If neither `$KRUST_PYTHON` nor the build directory's virtualenv exists.
fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("KRUST_PYTHON") {
        let python = PathBuf::from(python);
        assert!(
            python.exists(),
            "KRUST_PYTHON={} does not exist; run ./scripts/test.sh, which installs the Python \
             clients into target/python-venv",
            python.display()
        );
        return python;
    }
    // target/<profile>/deps/<test> → target/python-venv/bin/python
    let exe = std::env::current_exe().expect("current_exe");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the test executable lives in target/<profile>/deps");
    let python = target.join("python-venv").join("bin").join("python");
    assert!(
        python.exists(),
        "no Python with the Kubernetes clients: KRUST_PYTHON is unset and {} does not exist; \
         run ./scripts/test.sh, which installs them (pinned in \
         crates/krust-e2e/tests/python/requirements.txt) into target/python-venv",
        python.display()
    );
    python
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("python")
        .join(name)
}

fn cluster() -> Cluster {
    Cluster::start_with(&["--sim-nodes", "2"])
}

/// Runs `tests/python/<name>` with the cluster's kubeconfig and asserts that it printed `ok`;
/// on failure shows its output and the tail of the server's log.
fn run_script(c: &Cluster, name: &str) {
    let home = c.data_dir().with_file_name("python-home");
    std::fs::create_dir_all(&home).expect("a HOME for the script");
    let mut cmd = Command::new(python());
    cmd.arg(script(name))
        .arg(c.kubeconfig())
        .env_remove("KUBECONFIG")
        .env("HOME", &home)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1");
    let out = run_with_timeout(cmd, SCRIPT_TIMEOUT);
    assert!(
        out.success() && out.stdout.trim_end().ends_with("ok"),
        "{name} failed ({}).\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- server stderr (tail) ---\n{}",
        out.status,
        out.stdout,
        out.stderr,
        tail(&c.server_stderr(), 40)
    );
}

#[test]
fn the_official_client_reads_the_version_and_discovery_from_the_trailing_slash_paths() {
    run_script(&cluster(), "version.py");
}

#[test]
fn the_official_client_creates_reads_replaces_patches_and_deletes_a_config_map() {
    run_script(&cluster(), "core_v1.py");
}

#[test]
fn the_official_client_rolls_out_scales_and_deletes_a_deployment() {
    run_script(&cluster(), "apps_v1.py");
}

#[test]
fn a_status_patch_by_the_official_client_records_the_status_subresource_in_managed_fields() {
    run_script(&cluster(), "status.py");
}

#[test]
fn kr8s_connects_lists_the_sim_nodes_and_creates_and_deletes_objects() {
    run_script(&cluster(), "kr8s_client.py");
}

#[test]
fn the_official_client_watches_config_maps_from_now_and_from_a_resource_version() {
    run_script(&cluster(), "watch.py");
}
