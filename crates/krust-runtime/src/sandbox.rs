//! Pod sandboxes without a pause process: the network, IPC and UTS namespaces are held by
//! bind mounts of their `/proc/thread-self/ns/*` files (as `ip netns add` and CNI's `ns`
//! package hold a network namespace), made in-process by a thread of their own (the network
//! namespace usually ahead, `spare.rs`), and the pod cgroup is a directory in every cgroup
//! hierarchy with the pod's limits (the kubelet's pod cgroup).

use std::path::{Path, PathBuf};

use rustix::thread::UnshareFlags;

use crate::Error;
use crate::cgroup;
use crate::error::{Context, Result};
use crate::runtime::{Runtime, valid_id};
use crate::spec::{QOS_CGROUPS, Sandbox, SandboxSpec};
use crate::state;

impl Runtime {
    /// Creates the sandbox of a pod, or returns the one it has (one per `pod_uid`).
    pub async fn run_sandbox(&self, spec: &SandboxSpec) -> Result<Sandbox> {
        let (sandbox, ()) = self.run_sandbox_with(spec, async |_| ()).await?;
        Ok(sandbox)
    }

    /// Creates the sandbox of a pod as [`Runtime::run_sandbox`], and runs `network` with
    /// its network namespace (none: the host's) as soon as the namespaces are held, while
    /// the pod cgroup is still being made (the kubelet's network attach needs only the
    /// namespace). Its output comes back with the sandbox; when the sandbox cannot be made
    /// it may have run, so the caller undoes what it did.
    pub async fn run_sandbox_with<T>(
        &self,
        spec: &SandboxSpec,
        network: impl AsyncFnOnce(Option<&Path>) -> T,
    ) -> Result<(Sandbox, T)> {
        let id = state::sandbox_id(&spec.pod_uid);
        let dir = self.sandbox_dir(&id);
        // Sandboxes of different pods are made in parallel (a burst of pods waits for no
        // other's `unshare`).
        let _pod = self.pod_lock(&id).await;
        if let Some(sandbox) = state::read_json::<Sandbox>(&dir.join("sandbox.json"))? {
            let output = network(sandbox.netns.as_deref()).await;
            return Ok((sandbox, output));
        }
        // Its containers' first monitor, started while the sandbox is made (`spare.rs`).
        let runtime = self.clone();
        tokio::task::spawn_blocking(move || runtime.ensure_spare());
        // A sandbox half-made by an agent that died is made again.
        release_namespaces(&dir);
        std::fs::create_dir_all(&dir).context(format_args!("creating {}", dir.display()))?;
        let result = self.make_sandbox(id, &dir, spec, network).await;
        if result.is_err() {
            release_namespaces(&dir);
            let _ = std::fs::remove_dir_all(&dir);
            let _ = cgroup::remove(&self.pod_cgroup(&spec.cgroup_parent));
        }
        result
    }

    async fn make_sandbox<T>(
        &self,
        id: String,
        dir: &Path,
        spec: &SandboxSpec,
        network: impl AsyncFnOnce(Option<&Path>) -> T,
    ) -> Result<(Sandbox, T)> {
        let file = |name: &str| -> Result<PathBuf> {
            let path = dir.join(name);
            std::fs::File::create(&path).context(format_args!("creating {}", path.display()))?;
            Ok(path)
        };
        let netns = if spec.host_network {
            None
        } else {
            Some(file("net")?)
        };
        let ipc_ns = if spec.host_ipc {
            None
        } else {
            Some(file("ipc")?)
        };
        let uts_ns = file("uts")?;
        let hostname = if spec.hostname.is_empty() {
            &spec.name
        } else {
            &spec.hostname
        };
        // The network namespace made ahead, if there is one (`spare.rs`); the others are
        // made on a thread of their own while the pod cgroup is made here.
        let spare_net = netns.as_deref().is_some_and(|f| self.take_spare_netns(f));
        if netns.is_some() {
            self.replenish_later(Runtime::ensure_spare_netns);
        }
        let namespaces = hold_namespaces(Held {
            net: netns.clone().filter(|_| !spare_net),
            ipc: ipc_ns.clone(),
            uts: Some(uts_ns.clone()),
            hostname: Some(hostname.clone()),
        });
        // The caller's other work (the pod's objects fetched) goes on meanwhile.
        let pod_cgroup = {
            let (relative, resources) =
                (self.pod_cgroup(&spec.cgroup_parent), spec.resources.clone());
            self.spawn_cgroup_work(move || cgroup::create(&relative, &resources))
        };
        let networked = async {
            namespaces.await?;
            Ok(network(netns.as_deref()).await)
        };
        let (output, pod_cgroup) = tokio::join!(networked, pod_cgroup);
        let output = output.and_then(|output| pod_cgroup.map(|()| output))?;
        let sandbox = Sandbox {
            id,
            spec: spec.clone(),
            netns,
            ipc_ns,
            uts_ns,
        };
        state::write_json(&dir.join("sandbox.json"), &sandbox)?;
        Ok((sandbox, output))
    }

    /// Stops and removes the sandbox's containers, then releases its namespaces and cgroup.
    pub async fn remove_sandbox(&self, id: &str) -> Result<()> {
        if !valid_id(id) {
            return Err(Error::NotFound(format!("sandbox {id:?}")));
        }
        let dir = self.sandbox_dir(id);
        let _pod = self.pod_lock(id).await;
        let Some(sandbox) = state::read_json::<Sandbox>(&dir.join("sandbox.json"))? else {
            return Err(Error::NotFound(format!("sandbox {id}")));
        };
        for container in self.list_containers().await? {
            if container.sandbox_id == id {
                self.remove_container(&container.id).await?;
            }
        }
        release_namespaces(&dir);
        cgroup::remove(&self.pod_cgroup(&sandbox.spec.cgroup_parent))?;
        std::fs::remove_dir_all(&dir).context(format_args!("removing {}", dir.display()))?;
        self.forget_pod_lock(id);
        Ok(())
    }

    /// Every sandbox in the state directory.
    pub async fn list_sandboxes(&self) -> Result<Vec<Sandbox>> {
        let mut out = Vec::new();
        let entries = std::fs::read_dir(self.config().root.join("sandboxes"))
            .context("reading the sandboxes directory")?;
        for entry in entries.flatten() {
            if let Some(sandbox) = state::read_json::<Sandbox>(&entry.path().join("sandbox.json"))?
            {
                out.push(sandbox);
            }
        }
        Ok(out)
    }

    /// The sandbox of the pod with this uid, if it has one (its id is the uid's hash: one
    /// file read, where `list_sandboxes` reads every pod's).
    pub fn pod_sandbox(&self, pod_uid: &str) -> Option<Sandbox> {
        self.sandbox(&state::sandbox_id(pod_uid))
            .ok()
            .filter(|s| s.spec.pod_uid == pod_uid)
    }

    /// A sandbox by id.
    pub(crate) fn sandbox(&self, id: &str) -> Result<Sandbox> {
        if !valid_id(id) {
            return Err(Error::NotFound(format!("sandbox {id:?}")));
        }
        state::read_json(&self.sandbox_dir(id).join("sandbox.json"))?
            .ok_or_else(|| Error::NotFound(format!("sandbox {id}")))
    }

    /// Removes the runtime's cgroups where they are empty: the QoS classes'
    /// (`QOS_CGROUPS`), which outlive their pods as the kubelet's do (a node's only pod
    /// does not make and remove three levels of directories in every hierarchy each time),
    /// and its root. Never a pod's: another runtime on the same root (a node in a network
    /// namespace, a build) may be making one.
    pub fn remove_cgroups(&self) {
        let root = &self.config().cgroup_root;
        let levels: Vec<String> = QOS_CGROUPS
            .into_iter()
            .chain([""])
            .map(|level| cgroup::relative(root, level, None))
            .collect();
        cgroup::remove_if_empty(&levels);
    }

    /// The pod cgroup, relative to every hierarchy.
    pub(crate) fn pod_cgroup(&self, cgroup_parent: &str) -> String {
        cgroup::relative(&self.config().cgroup_root, cgroup_parent, None)
    }
}

/// Unmounts the namespace files of a sandbox directory (each may be absent or unmounted).
pub(crate) fn release_namespaces(dir: &Path) {
    for name in ["net", "ipc", "uts"] {
        release(&dir.join(name));
    }
}

/// Unmounts whatever is mounted at `file`, a namespace's holder (nothing if none is).
pub(crate) fn release(file: &Path) {
    while rustix::mount::unmount(file, rustix::mount::UnmountFlags::DETACH).is_ok() {}
}

/// Namespaces to make: where each is held (none: not made), and the pod's hostname.
pub(crate) struct Held {
    pub(crate) net: Option<PathBuf>,
    pub(crate) ipc: Option<PathBuf>,
    pub(crate) uts: Option<PathBuf>,
    pub(crate) hostname: Option<String>,
}

/// Makes the namespaces of `held` on a new thread, which unshares them, sets the hostname,
/// brings `lo` up and binds each namespace to its file; the files hold them once the thread
/// has ended. Only that thread ever is in them: a thread that changed namespaces is never
/// reused (not one of Tokio's blocking pool).
async fn hold_namespaces(held: Held) -> Result<()> {
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("krust-sandbox".to_string())
        .spawn(move || {
            let _ = done.send(make_namespaces(&held));
        })
        .context("starting a thread for a sandbox")?;
    result
        .await
        .map_err(|_| Error::Other("the sandbox thread panicked".into()))?
}

/// Makes the namespaces of `held` on the calling thread, which stays in them: a thread of
/// its own.
pub(crate) fn make_namespaces(held: &Held) -> Result<()> {
    let mut flags = UnshareFlags::empty();
    if held.uts.is_some() {
        flags |= UnshareFlags::NEWUTS;
    }
    if held.net.is_some() {
        flags |= UnshareFlags::NEWNET;
    }
    if held.ipc.is_some() {
        flags |= UnshareFlags::NEWIPC;
    }
    // `unshare_unsafe` is unsafe because unsharing the file table under other threads
    // breaks them; these namespaces are per thread, so the safe (deprecated) spelling is
    // used (the workspace forbids unsafe code).
    #[allow(deprecated)]
    rustix::thread::unshare(flags).context("unsharing the pod's namespaces")?;
    if let Some(hostname) = &held.hostname {
        rustix::system::sethostname(hostname.as_bytes())
            .context(format_args!("setting the hostname {hostname:?}"))?;
    }
    if held.net.is_some() {
        // The loopback device of a new network namespace starts down (CNI's loopback
        // plugin brings it up).
        let mut link = krust_netlink::Netlink::open().context("opening rtnetlink")?;
        link.index("lo")
            .and_then(|lo| link.set_up(lo))
            .context("setting lo up")?;
    }
    let namespaces = [("net", &held.net), ("ipc", &held.ipc), ("uts", &held.uts)];
    for (kind, file) in namespaces {
        if let Some(file) = file {
            rustix::mount::mount_bind(format!("/proc/thread-self/ns/{kind}"), file).context(
                format_args!("holding the {kind} namespace at {}", file.display()),
            )?;
        }
    }
    Ok(())
}
