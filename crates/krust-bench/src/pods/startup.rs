//! Part (2) of `krust-bench pods`: pod startup latency as Kubernetes' pod startup SLI takes
//! it, from the create request to the pod seen `Running` through a watch (scheduling, the
//! node's sandbox, network, image and container start, and the status write included), for
//! one pod at a time and for many created at once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::watcher;
use serde_json::json;
use tokio::sync::mpsc;

/// The label every benchmark pod carries.
const LABEL: &str = "krt-bench";
const NAMESPACE: &str = "default";

/// A watch on the benchmark's pods: the instants each pod was first seen bound to a node and
/// first seen Running.
pub struct RunningWatch {
    seen: mpsc::UnboundedReceiver<(String, Seen)>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningWatch {
    /// Starts the watch and waits until its initial list is done.
    pub async fn start(client: kube::Client) -> Result<RunningWatch> {
        let pods: Api<Pod> = Api::namespaced(client, NAMESPACE);
        let (tx, seen) = mpsc::unbounded_channel();
        let (ready_tx, ready) = tokio::sync::oneshot::channel();
        let config = watcher::Config::default().labels(&format!("{LABEL}=pods"));
        let task = tokio::spawn(async move {
            let mut ready_tx = Some(ready_tx);
            let mut stream = watcher(pods, config).boxed();
            while let Some(event) = stream.next().await {
                let pod = match event {
                    Ok(watcher::Event::InitDone) => {
                        if let Some(ready) = ready_tx.take() {
                            let _ = ready.send(());
                        }
                        continue;
                    }
                    Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) => pod,
                    _ => continue,
                };
                let now = Instant::now();
                let running =
                    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
                let bound = pod.spec.as_ref().is_some_and(|s| s.node_name.is_some());
                let Some(uid) = pod.metadata.uid else {
                    continue;
                };
                if running {
                    let _ = tx.send((uid, Seen::Running(now)));
                } else if bound {
                    let _ = tx.send((uid, Seen::Bound(now)));
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(30), ready)
            .await
            .context("the pod watch did not start")??;
        Ok(RunningWatch { seen, task })
    }

    /// Waits until each uid of `created` (uid → when its create was sent) has been seen
    /// Running; each pod's latency, and how much of it passed before the pod was seen bound
    /// to the node (the scheduler's part; zero when the bind was not seen on its own).
    async fn latencies(
        &mut self,
        created: &HashMap<String, Instant>,
        bound: Duration,
    ) -> Result<HashMap<String, Startup>> {
        let deadline = tokio::time::Instant::now() + bound;
        let mut latencies: HashMap<String, Startup> = HashMap::new();
        let mut bound_at: HashMap<String, Instant> = HashMap::new();
        while latencies.len() < created.len() {
            let Ok(Some((uid, seen))) = tokio::time::timeout_at(deadline, self.seen.recv()).await
            else {
                bail!(
                    "{} of {} pods Running after {bound:?}",
                    latencies.len(),
                    created.len()
                );
            };
            let Some(start) = created.get(&uid) else {
                continue;
            };
            match seen {
                Seen::Bound(at) => {
                    bound_at.entry(uid).or_insert(at);
                }
                Seen::Running(at) => {
                    let scheduled = bound_at.get(&uid).map_or(Duration::ZERO, |b| *b - *start);
                    latencies.entry(uid).or_insert(Startup {
                        total: at - *start,
                        scheduled,
                    });
                }
            }
        }
        Ok(latencies)
    }
}

/// What the watch saw of a pod, and when.
enum Seen {
    Bound(Instant),
    Running(Instant),
}

/// One pod's startup: create → Running, and create → seen bound to the node.
#[derive(Clone, Copy, Debug)]
pub struct Startup {
    pub total: Duration,
    pub scheduled: Duration,
}

impl Drop for RunningWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A pod of `image` that sleeps, with a 64 MiB memory limit, never pulling.
fn pod(name: &str, image: &str) -> Result<Pod> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {LABEL: "pods"}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "sleep",
                "image": image,
                "imagePullPolicy": "Never",
                "command": ["sleep", "3600"],
                "resources": {"limits": {"memory": "64Mi"}},
            }],
        },
    }))?)
}

/// Creates `count` pods at once (concurrent requests) named `prefix-N` and waits until all
/// run; each pod's startup and the time from the first create to the last pod Running.
pub async fn create_running(
    client: &kube::Client,
    watch: &mut RunningWatch,
    image: &str,
    prefix: &str,
    count: usize,
    bound: Duration,
) -> Result<(Vec<Startup>, Duration)> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let first = Instant::now();
    let creates = (0..count).map(|i| {
        let pods = pods.clone();
        async move {
            let pod = pod(&format!("{prefix}-{i}"), image)?;
            let start = Instant::now();
            let made = pods.create(&PostParams::default(), &pod).await?;
            anyhow::Ok((made.metadata.uid.context("a pod without uid")?, start))
        }
    });
    let created: HashMap<String, Instant> = futures::future::try_join_all(creates)
        .await?
        .into_iter()
        .collect();
    let latencies = watch.latencies(&created, bound).await?;
    let all = latencies
        .iter()
        .map(|(uid, l)| created[uid] + l.total)
        .max()
        .map_or(Duration::ZERO, |last| last - first);
    Ok((latencies.into_values().collect(), all))
}

/// Deletes every benchmark pod and waits until they are gone.
pub async fn delete_all(client: &kube::Client, bound: Duration) -> Result<()> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let selector = ListParams::default().labels(&format!("{LABEL}=pods"));
    pods.delete_collection(&DeleteParams::default().grace_period(1), &selector)
        .await?;
    let deadline = Instant::now() + bound;
    while !pods.list(&selector).await?.items.is_empty() {
        if Instant::now() > deadline {
            bail!("the benchmark's pods were not gone after {bound:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
