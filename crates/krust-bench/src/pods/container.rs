//! Part (1) of `krust-bench pods`: one container's start→exit (`/bin/true`, 64 MiB memory
//! limit) through krust's own runtime (`krust_runtime::Runtime`: create, start under its
//! monitor, the exit seen), as the runtime's latency test times it, against `runc run` of an
//! OCI bundle over the same unpacked layer and `podman run --rm` of the same image.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use krust_runtime::{ContainerSpec, Resources, Runtime, RuntimeConfig, Sandbox, SandboxSpec};

use crate::pods::podman::Podman;
use crate::pods::runc::{self, Runc};

/// A krust runtime over a state directory of its own, with one sandbox to start containers
/// in; dropping it removes the sandbox, the containers and the cgroups.
pub struct KrustRuntime {
    runtime: Runtime,
    sandbox: Sandbox,
    cgroup_root: String,
    dir: PathBuf,
    layers: Vec<PathBuf>,
}

impl KrustRuntime {
    /// A runtime under `dir` whose monitor is `krust monitor` of the `krust` binary, and a
    /// sandbox; containers run on `layers`.
    pub async fn new(dir: &Path, krust: &Path, layers: Vec<PathBuf>) -> Result<KrustRuntime> {
        let cgroup_root = format!("krt-bench-rt-{}", std::process::id());
        let runtime = Runtime::new(RuntimeConfig {
            root: dir.join("state"),
            monitor: vec![krust.into(), "monitor".into()],
            cgroup_root: cgroup_root.clone(),
        })
        .context("starting the krust runtime")?;
        let sandbox = runtime
            .run_sandbox(&SandboxSpec {
                pod_uid: format!("{cgroup_root}-sandbox"),
                namespace: "krt-bench".into(),
                name: "start-exit".into(),
                hostname: "start-exit".into(),
                cgroup_parent: "kubepods/burstable/podkrt-bench".into(),
                ..Default::default()
            })
            .await
            .context("running the sandbox")?;
        Ok(KrustRuntime {
            runtime,
            sandbox,
            cgroup_root,
            dir: dir.to_path_buf(),
            layers,
        })
    }

    /// The container of one run: `/bin/true`, 64 MiB limit, the kubelet's defaults.
    fn spec(&self) -> ContainerSpec {
        ContainerSpec {
            sandbox_id: self.sandbox.id.clone(),
            name: "true".into(),
            image: "busybox".into(),
            lower_dirs: self.layers.clone(),
            args: vec!["/bin/true".into()],
            cwd: "/".into(),
            capabilities: krust_runtime::DEFAULT_CAPABILITIES
                .iter()
                .map(|c| c.to_string())
                .collect(),
            no_new_privileges: true,
            seccomp_runtime_default: true,
            log_path: self.dir.join("logs").join("true.log"),
            resources: Resources {
                memory_limit: Some(64 << 20),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// One container created, started and seen exiting; the container is removed after
    /// (not timed).
    pub async fn run_once(&self) -> Result<Duration> {
        let spec = self.spec();
        let mut exits = self.runtime.exits();
        let start = Instant::now();
        let id = self.runtime.create_container(&spec).await?;
        self.runtime.start_container(&id).await?;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), exits.recv()).await {
                Ok(Ok(exited)) if exited == id => break,
                Ok(Ok(_)) => continue,
                Ok(Err(e)) => bail!("exits of {id}: {e}"),
                Err(_) => bail!("{id} did not exit within 10 s"),
            }
        }
        let took = start.elapsed();
        self.runtime.remove_container(&id).await?;
        Ok(took)
    }

    /// Removes the sandbox and the runtime's cgroups.
    pub async fn remove(self) {
        let _ = self.runtime.remove_sandbox(&self.sandbox.id).await;
        runc::remove_cgroups(&self.cgroup_root);
    }
}

/// The start→exit samples of the three runtimes.
pub struct StartExit {
    pub krust: Vec<Duration>,
    pub runc: Vec<Duration>,
    pub podman: Vec<Duration>,
}

/// `runs` start→exit runs of krust's runtime and of runc, `podman_runs` of podman,
/// interleaved so that the machine's drift touches all three alike.
pub async fn measure(
    krust: &KrustRuntime,
    runc: &mut Runc,
    podman: &Podman,
    image: &str,
    runs: usize,
    podman_runs: usize,
) -> Result<StartExit> {
    // One warm-up run each: the page cache, the binaries, the layer.
    krust.run_once().await?;
    runc.run_once()?;
    podman.run_once(image, &["/bin/true"])?;
    let mut samples = StartExit {
        krust: Vec::new(),
        runc: Vec::new(),
        podman: Vec::new(),
    };
    for i in 0..runs {
        samples.krust.push(krust.run_once().await?);
        samples
            .runc
            .push(tokio::task::block_in_place(|| runc.run_once())?);
        if i < podman_runs {
            let took = tokio::task::block_in_place(|| podman.run_once(image, &["/bin/true"]))?;
            samples.podman.push(took);
        }
    }
    Ok(samples)
}
