//! The runtime handle, CRI's RuntimeService in-process: configuration, the state
//! directory, and the broadcast of container exits. The calls live beside it, one concern
//! per file: `sandbox.rs`, `container.rs`, `status.rs`, `stop.rs`, `exec.rs`, `exits.rs`.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::Error;
use crate::error::{Context, Result};
use crate::state::{self, ContainerDir, ContainerRecord};

/// How the runtime is set up.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// The state directory: `sandboxes/<id>/…`, `containers/<id>/…` (bundle, state, exit).
    pub root: PathBuf,
    /// The argv prefix that re-executes the monitor, e.g. `[<krust exe>, "monitor"]`.
    pub monitor: Vec<OsString>,
    /// The cgroup every pod cgroup is under: `"krust"` puts a container at
    /// `/sys/fs/cgroup/<controller>/krust/<cgroup_parent>/<container id>`.
    pub cgroup_root: String,
}

/// The builtin runtime; cheap to clone (one shared state inside).
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: RuntimeConfig,
    pub(crate) exits: broadcast::Sender<String>,
    /// Containers whose monitor is being watched for its exit.
    pub(crate) watched: Mutex<HashSet<String>>,
    /// One sandbox call per pod at a time (pods in parallel): by sandbox id.
    pub(crate) pods: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The monitor waiting for the next container (`spare.rs`).
    pub(crate) spare: Mutex<Option<crate::spare::Spare>>,
    /// Where the spare network namespace is held, if one is (`spare.rs`).
    pub(crate) spare_netns: Mutex<Option<PathBuf>>,
    /// cgroups are made one at a time (`spawn_cgroup_work`).
    pub(crate) cgroups: tokio::sync::Mutex<()>,
}

impl Runtime {
    /// A runtime over `config.root`, adopting the containers a previous agent left running
    /// (their exits are still seen) and clearing what a crash left half-created. Called
    /// from within a Tokio runtime.
    pub fn new(config: RuntimeConfig) -> Result<Runtime> {
        for dir in ["sandboxes", "containers"] {
            let path = config.root.join(dir);
            std::fs::create_dir_all(&path).context(format_args!("creating {}", path.display()))?;
        }
        if config.monitor.is_empty() {
            return Err(Error::Other("the monitor command is empty".into()));
        }
        // Without it every start is slower, nothing else: the node agent says so
        // (`favor_dynamic_changes` answers again).
        let _ = crate::dynmods::favor_dynamic_changes();
        let (exits, _) = broadcast::channel(1024);
        let runtime = Runtime {
            inner: Arc::new(Inner {
                config,
                exits,
                watched: Mutex::new(HashSet::new()),
                pods: Mutex::new(HashMap::new()),
                spare: Mutex::new(None),
                spare_netns: Mutex::new(None),
                cgroups: tokio::sync::Mutex::new(()),
            }),
        };
        runtime.adopt();
        Ok(runtime)
    }

    /// Runs `make` (a pod's or a container's cgroup) on a blocking thread, started at once
    /// and one at a time: its caller goes on meanwhile, and a burst of pods keeps one such
    /// thread busy rather than starting one for each (a thread's stack and allocator heap
    /// stay resident until it has been idle ten seconds).
    pub(crate) fn spawn_cgroup_work<F>(&self, make: F) -> impl Future<Output = Result<()>> + use<F>
    where
        F: FnOnce() -> Result<()> + Send + 'static,
    {
        let runtime = self.clone();
        let made = tokio::spawn(async move {
            let _one = runtime.inner.cgroups.lock().await;
            tokio::task::spawn_blocking(make).await
        });
        async move {
            made.await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_else(|| Err(Error::Other("making a cgroup panicked".into())))
        }
    }

    /// Container ids as their containers exit (once the exit is recorded).
    pub fn exits(&self) -> broadcast::Receiver<String> {
        self.inner.exits.subscribe()
    }

    pub(crate) fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    pub(crate) fn container_dir(&self, id: &str) -> ContainerDir {
        ContainerDir(self.config().root.join("containers").join(id))
    }

    pub(crate) fn sandbox_dir(&self, id: &str) -> PathBuf {
        self.config().root.join("sandboxes").join(id)
    }

    /// The stored record of a container.
    pub(crate) fn record(&self, id: &str) -> Result<ContainerRecord> {
        if !valid_id(id) {
            return Err(Error::NotFound(format!("container {id:?}")));
        }
        state::read_json(&self.container_dir(id).record())?
            .ok_or_else(|| Error::NotFound(format!("container {id}")))
    }

    /// Holds sandbox `id` for one call: its creation or removal.
    pub(crate) async fn pod_lock(&self, id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = self
            .inner
            .pods
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(id.to_string())
            .or_default()
            .clone();
        lock.lock_owned().await
    }

    /// Forgets the lock of a removed sandbox.
    pub(crate) fn forget_pod_lock(&self, id: &str) {
        let mut pods = self.inner.pods.lock().unwrap_or_else(|e| e.into_inner());
        pods.remove(id);
    }
}

/// Ids are what this runtime made: hex digits only, so never a path.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}
