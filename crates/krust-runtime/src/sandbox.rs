//! Pod sandboxes without a pause process: the network, IPC and UTS namespaces are held by
//! bind mounts of their `/proc/<pid>/ns/*` files (as `ip netns add` and CNI's `ns` package
//! hold a network namespace), made by util-linux `unshare`, and the pod cgroup is a
//! directory in every cgroup hierarchy with the pod's limits (the kubelet's pod cgroup).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::Error;
use crate::cgroup;
use crate::error::{Context, Result};
use crate::runtime::{Runtime, valid_id};
use crate::spec::{Sandbox, SandboxSpec};
use crate::state;

const UNSHARE: &str = "unshare";

impl Runtime {
    /// Creates the sandbox of a pod, or returns the one it has (one per `pod_uid`).
    pub async fn run_sandbox(&self, spec: &SandboxSpec) -> Result<Sandbox> {
        let id = state::sandbox_id(&spec.pod_uid);
        let dir = self.sandbox_dir(&id);
        // Namespaces of different pods are made in parallel (a burst of pods waits for no
        // other's `unshare`); only their cgroups are made one at a time.
        let _pod = self.pod_lock(&id).await;
        if let Some(sandbox) = state::read_json::<Sandbox>(&dir.join("sandbox.json"))? {
            return Ok(sandbox);
        }
        // A sandbox half-made by an agent that died is made again.
        release_namespaces(&dir);
        std::fs::create_dir_all(&dir).context(format_args!("creating {}", dir.display()))?;
        let result = self.make_sandbox(id, &dir, spec).await;
        if result.is_err() {
            release_namespaces(&dir);
            let _ = std::fs::remove_dir_all(&dir);
            let relative = self.pod_cgroup(&spec.cgroup_parent);
            let _cgroups = self.inner.sandboxes.lock().await;
            let _ = cgroup::remove(
                &relative,
                &cgroup::relative(&self.config().cgroup_root, "", None),
            );
        }
        result
    }

    async fn make_sandbox(&self, id: String, dir: &Path, spec: &SandboxSpec) -> Result<Sandbox> {
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
        let mut command = tokio::process::Command::new(UNSHARE);
        if let Some(net) = &netns {
            command.arg(format!("--net={}", net.display()));
        }
        if let Some(ipc) = &ipc_ns {
            command.arg(format!("--ipc={}", ipc.display()));
        }
        command.arg(format!("--uts={}", uts_ns.display()));
        let hostname = if spec.hostname.is_empty() {
            &spec.name
        } else {
            &spec.hostname
        };
        // The loopback device of a new network namespace starts down (CNI's loopback
        // plugin brings it up).
        let script = if netns.is_some() {
            r#"hostname "$1" && ip link set lo up"#
        } else {
            r#"hostname "$1""#
        };
        command.args(["sh", "-c", script, "sh", hostname]);
        let output = command
            .stdin(Stdio::null())
            .output()
            .await
            .context("running unshare")?;
        if !output.status.success() {
            return Err(Error::Other(format!(
                "unshare: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        {
            let _cgroups = self.inner.sandboxes.lock().await;
            cgroup::create_pod(&self.pod_cgroup(&spec.cgroup_parent), &spec.resources)?;
        }
        let sandbox = Sandbox {
            id,
            spec: spec.clone(),
            netns,
            ipc_ns,
            uts_ns,
        };
        state::write_json(&dir.join("sandbox.json"), &sandbox)?;
        Ok(sandbox)
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
        let relative = self.pod_cgroup(&sandbox.spec.cgroup_parent);
        {
            let _cgroups = self.inner.sandboxes.lock().await;
            cgroup::remove(
                &relative,
                &cgroup::relative(&self.config().cgroup_root, "", None),
            )?;
        }
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

    /// A sandbox by id.
    pub(crate) fn sandbox(&self, id: &str) -> Result<Sandbox> {
        if !valid_id(id) {
            return Err(Error::NotFound(format!("sandbox {id:?}")));
        }
        state::read_json(&self.sandbox_dir(id).join("sandbox.json"))?
            .ok_or_else(|| Error::NotFound(format!("sandbox {id}")))
    }

    /// The pod cgroup, relative to every hierarchy.
    pub(crate) fn pod_cgroup(&self, cgroup_parent: &str) -> String {
        cgroup::relative(&self.config().cgroup_root, cgroup_parent, None)
    }
}

/// Unmounts the namespace files of a sandbox directory (each may be absent or unmounted).
pub(crate) fn release_namespaces(dir: &Path) {
    for name in ["net", "ipc", "uts"] {
        let path = dir.join(name);
        while rustix::mount::unmount(&path, rustix::mount::UnmountFlags::DETACH).is_ok() {}
    }
}
