//! Pods on sim nodes: one watcher of bound pods for the whole process (filtered locally by
//! node), one worker task per pod (`crate::pod_workers`).
//! The worker starts the pod (Running, ready as its probes allow), and when it is deleted
//! stops it, posts the terminated status and deletes it for good (grace 0, uid precondition).
//! A worker lives as long as its pod, so its start, its termination and its requests are
//! boxed: the task's idle state stays small (thousands of pods per process) instead of
//! holding room for them.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::IgnoredAny;
use serde_json::Value;
use tokio::time::Instant;

use super::node::SimNode;
use super::pod_status::{self, Placement};
use super::view::{Container, Pod};
use super::{Shared, TERMINATION_SECONDS_ANNOTATION};
use crate::pod_workers::PodWorkers;

type Latest = crate::pod_workers::Latest<Pod>;

/// Watches the pods bound to any node and runs a worker for each pod of a live sim node.
pub async fn watch(shared: Arc<Shared>) {
    let api: Api<Pod> = Api::all(shared.client.clone());
    let config = watcher::Config::default().fields("spec.nodeName!=");
    let mut stream = watcher(api, config).default_backoff().boxed();
    let mut workers = PodWorkers::new();
    while let Some(event) = stream.next().await {
        match event {
            Ok(event) => drop(workers.event(event, |w, pod| dispatch(&shared, w, pod))),
            Err(e) => tracing::debug!(error = %e, "watching pods"),
        }
    }
}

fn dispatch(shared: &Arc<Shared>, workers: &mut PodWorkers<Pod>, pod: Pod) {
    let Some(uid) = pod.metadata.uid.clone() else {
        return;
    };
    let node = pod.spec.as_ref().and_then(|s| s.node_name.as_ref());
    let Some(node) = node.and_then(|n| shared.nodes.get(n)) else {
        return;
    };
    if node.is_stopped() {
        workers.remove(&uid);
        return;
    }
    let (shared, node) = (shared.clone(), node.clone());
    workers.update(pod, |rx| {
        tokio::spawn(async move {
            tokio::select! {
                _ = node.stopped() => {}
                _ = Worker::new(&shared, &node, &rx).run(rx.clone()) => {}
            }
            node.release(&uid);
        });
    });
}

struct Worker<'a> {
    shared: &'a Shared,
    node: &'a SimNode,
    api: Api<Pod>,
    name: String,
    uid: String,
    /// Pod IP and start time, once the containers run.
    placed: Option<(String, jiff::Timestamp)>,
    /// The ephemeral containers started, with when.
    ephemeral: Vec<(String, jiff::Timestamp)>,
}

impl<'a> Worker<'a> {
    fn new(shared: &'a Shared, node: &'a SimNode, rx: &Latest) -> Self {
        let pod = rx.borrow();
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
        Worker {
            shared,
            node,
            api: Api::namespaced(shared.client.clone(), namespace),
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            placed: None,
            ephemeral: Vec::new(),
        }
    }

    async fn run(mut self, mut rx: Latest) {
        let pod = rx.borrow_and_update().clone();
        if !finished(&pod) {
            self.placed = self.adopt(&pod);
            if self.placed.is_none() && !terminating(&pod) {
                Box::pin(self.start(&mut rx)).await;
            }
        }
        loop {
            if terminating(&rx.borrow_and_update()) {
                break;
            }
            Box::pin(self.start_ephemeral(&rx)).await;
            if rx.changed().await.is_err() {
                return;
            }
        }
        Box::pin(self.terminate(&mut rx)).await;
        // Wait for the pod to leave the API (the sender is dropped), then release its IP.
        while rx.changed().await.is_ok() {}
    }

    /// A pod that already runs here (a node taken over): keep its address.
    fn adopt(&mut self, pod: &Pod) -> Option<(String, jiff::Timestamp)> {
        let status = pod.status.as_ref()?;
        if status.phase.as_deref() != Some("Running") {
            return None;
        }
        let ip = status.pod_ip.clone()?;
        if let Ok(addr) = ip.parse::<Ipv4Addr>()
            && addr != self.node.ip
        {
            self.node.reserve(&self.uid, addr);
        }
        let started = status
            .start_time
            .as_ref()
            .map(|t| t.0)
            .unwrap_or_else(jiff::Timestamp::now);
        let reported = status.ephemeral_container_statuses.iter().flatten();
        self.ephemeral = reported.map(|s| (s.name.clone(), started)).collect();
        Some((ip, started))
    }

    /// Starts (reports as running, with their Events) the ephemeral containers added since
    /// the last look, each once.
    async fn start_ephemeral(&mut self, rx: &Latest) {
        if self.placed.is_none() {
            return;
        }
        let pod = rx.borrow().clone();
        let spec = pod.spec.as_ref();
        let added: Vec<Container> = spec
            .iter()
            .flat_map(|s| s.ephemeral_containers.iter().flatten())
            .filter(|c| !self.ephemeral.iter().any(|(n, _)| *n == c.name))
            .cloned()
            .collect();
        if added.is_empty() {
            return;
        }
        let now = jiff::Timestamp::now();
        for c in &added {
            self.container_events(&pod, c, "ephemeralContainers");
            self.ephemeral.push((c.name.clone(), now));
        }
        let body = pod_status::ephemeral_running(&pod, &self.placement(), &self.ephemeral);
        self.patch(rx, body).await;
    }

    async fn start(&mut self, rx: &mut Latest) {
        let pod = rx.borrow().clone();
        let host_network = pod
            .spec
            .as_ref()
            .and_then(|s| s.host_network)
            .unwrap_or(false);
        let ip = if host_network {
            self.node.ip.to_string()
        } else {
            let cidr = tokio::select! {
                cidr = self.node.pod_cidr(self.shared.opts.pod_cidr_wait) => cidr,
                _ = until_terminating(rx) => return,
            };
            self.shared.routes.ensure(&cidr);
            match self.node.allocate(&self.uid, &cidr) {
                Some(ip) => ip.to_string(),
                None => {
                    tracing::warn!(pod = %self.name, node = %self.node.name, %cidr, "no free pod IP");
                    return;
                }
            }
        };
        let (started, t0) = (jiff::Timestamp::now(), Instant::now());
        self.placed = Some((ip, started));
        self.start_events(&pod);
        let body = pod_status::running(&pod, &self.placement(), Duration::ZERO);
        if !self.patch(rx, body).await {
            return;
        }
        for step in pod_status::readiness_steps(&pod) {
            tokio::select! {
                _ = tokio::time::sleep_until(t0 + step) => {}
                _ = until_terminating(rx) => return,
            }
            let pod = rx.borrow().clone();
            if !self
                .patch(rx, pod_status::running(&pod, &self.placement(), step))
                .await
            {
                return;
            }
        }
    }

    async fn terminate(&mut self, rx: &mut Latest) {
        if self.placed.is_some() {
            let seen = Instant::now();
            loop {
                let wait = termination_wait(&rx.borrow_and_update());
                tokio::select! {
                    _ = tokio::time::sleep_until(seen + wait) => break,
                    changed = rx.changed() => if changed.is_err() { return },
                }
            }
            let pod = rx.borrow().clone();
            let ephemeral = pod
                .spec
                .iter()
                .flat_map(|s| s.ephemeral_containers.iter().flatten());
            let running = containers(&pod)
                .map(|c| (c, "containers"))
                .chain(ephemeral.map(|c| (c, "ephemeralContainers")));
            for (c, list) in running {
                let message = format!("Stopping container {}", c.name);
                self.event(
                    &pod,
                    format!("spec.{list}{{{}}}", c.name),
                    "Killing",
                    message,
                );
            }
            let body = pod_status::terminated(&pod, &self.placement(), jiff::Timestamp::now());
            if !self.patch(rx, body).await && rx.has_changed().is_err() {
                return;
            }
        }
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(self.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        let mut delay = Duration::from_millis(100);
        loop {
            let result = {
                let Ok(_permit) = self.shared.limit.acquire().await else {
                    return;
                };
                Box::pin(self.api.delete(&self.name, &params)).await
            };
            match result {
                Ok(_) => return,
                Err(kube::Error::Api(e)) if matches!(e.code, 404 | 409) => return,
                Err(e) => {
                    tracing::debug!(pod = %self.name, error = %e, "deleting; retrying");
                    if rx.has_changed().is_err() {
                        return;
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    fn placement(&self) -> Placement<'_> {
        let (ip, started) = self.placed.as_ref().expect("placed");
        Placement {
            host_ip: &self.node.ip_str,
            pod_ip: ip,
            started: *started,
        }
    }

    /// Patches `pods/status`, retrying transient errors. False if the pod is gone (or refuses).
    async fn patch(&self, rx: &Latest, body: Value) -> bool {
        let patch = Patch::Strategic(body);
        let mut delay = Duration::from_millis(100);
        loop {
            let result = {
                let Ok(_permit) = self.shared.limit.acquire().await else {
                    return false;
                };
                self.send_status(&patch).await
            };
            match result {
                Ok(_) => return true,
                Err(kube::Error::Api(e)) if matches!(e.code, 400 | 404 | 409 | 422) => {
                    tracing::debug!(pod = %self.name, error = %e, "pod status refused");
                    return false;
                }
                Err(e) => {
                    tracing::debug!(pod = %self.name, error = %e, "patching pod status; retrying");
                    if rx.has_changed().is_err() {
                        return false;
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Sends one `pods/status` patch. The answer (the whole pod) is not decoded: the worker
    /// learns the pod from the watch.
    async fn send_status(&self, patch: &Patch<Value>) -> kube::Result<IgnoredAny> {
        let request = kube::core::Request::new(self.api.resource_url())
            .patch_subresource("status", &self.name, &PatchParams::default(), patch)
            .map_err(kube::Error::BuildRequest)?;
        Box::pin(self.shared.client.request(request)).await
    }

    /// Pulled (or Pulling and Pulled), Created, Started for every container, init ones first.
    fn start_events(&self, pod: &Pod) {
        let spec = pod.spec.as_ref();
        let inits = spec
            .iter()
            .flat_map(|s| s.init_containers.iter().flatten())
            .map(|c| (c, "initContainers"));
        for (c, list) in inits.chain(containers(pod).map(|c| (c, "containers"))) {
            self.container_events(pod, c, list);
        }
    }

    /// Pulled (or Pulling and Pulled), Created, Started for one container of `list`.
    fn container_events(&self, pod: &Pod, c: &Container, list: &str) {
        let field = || format!("spec.{list}{{{}}}", c.name);
        let image = c.image.as_deref().unwrap_or_default();
        if pull_policy(c) == "Always" {
            self.event(pod, field(), "Pulling", format!("Pulling image {image:?}"));
            let message = format!(
                "Successfully pulled image {image:?} in 0s (0s including waiting). Image size: 0 bytes."
            );
            self.event(pod, field(), "Pulled", message);
        } else {
            let message = format!("Container image {image:?} already present on machine");
            self.event(pod, field(), "Pulled", message);
        }
        self.event(
            pod,
            field(),
            "Created",
            format!("Created container: {}", c.name),
        );
        self.event(
            pod,
            field(),
            "Started",
            format!("Started container {}", c.name),
        );
    }

    fn event(&self, pod: &Pod, field: String, reason: &str, message: String) {
        self.shared
            .events
            .pod(pod, &self.node.name, Some(field), reason, message);
    }
}

/// Resolves when the pod is being deleted or is gone.
async fn until_terminating(rx: &mut Latest) {
    while !terminating(&rx.borrow_and_update()) {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

fn terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

fn finished(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    matches!(phase, Some("Succeeded" | "Failed"))
}

/// How long the containers take to stop: the termination-seconds annotation, bounded by the
/// grace period; else at once.
fn termination_wait(pod: &Pod) -> Duration {
    let wanted = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(TERMINATION_SECONDS_ANNOTATION))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0);
    let Some(wanted) = wanted else {
        return Duration::ZERO;
    };
    let grace = pod
        .metadata
        .deletion_grace_period_seconds
        .unwrap_or(30)
        .max(0) as f64;
    Duration::from_secs_f64(wanted.min(grace))
}

fn containers(pod: &Pod) -> impl Iterator<Item = &Container> {
    pod.spec.iter().flat_map(|s| s.containers.iter())
}

/// The image pull policy, defaulted as the API server does (Always for `:latest` or no tag).
fn pull_policy(c: &Container) -> &str {
    if let Some(p) = c.image_pull_policy.as_deref() {
        return p;
    }
    let image = c.image.as_deref().unwrap_or_default();
    let last = image.rsplit('/').next().unwrap_or_default();
    if image.contains('@') || (last.contains(':') && !last.ends_with(":latest")) {
        "IfNotPresent"
    } else {
        "Always"
    }
}
