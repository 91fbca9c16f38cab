//! One real pod's worker, the kubelet's `syncPod` loop: on every change of the pod, exit of
//! one of its containers or timer, it compares what should run with what runs and acts:
//! the sandbox (held namespaces, cgroup, network, volumes) first, then the ephemeral
//! containers `kubectl debug` added (each started once, never restarted, in the PID namespace
//! of its `targetContainerName` if it names one), init containers in order (sidecars kept
//! running), then the containers, restarted by `restartPolicy` with the crash-loop back-off; it runs the containers' probes when due (`probing.rs`), killing a
//! container whose liveness or startup probe failed, and their postStart hooks (`hooks.rs`);
//! it posts the status when it changed. When the pod is deleted it stops the containers
//! (preStop hooks, then the stop signal), main containers first and then sidecars in reverse
//! order, within the grace period, posts their final status, releases the sandbox and
//! deletes the pod for good (grace 0, uid precondition).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::core::v1::{Container, Pod};
use krust_runtime::{ContainerState, Sandbox};
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use serde_json::Value;
use tokio::sync::watch;

use super::Shared;
use super::backoff::{self, Backoff};
use super::context::ObjectMap;
use super::hooks::{self, Running};
use super::prepare::{self, Prepared};
use super::probes::schedule::{Change, Kind};
use super::probes::{self, Action, Outcome, Target};
use super::probing::Prober;
use super::status::{self, ContainerRecord, Placement, State, Terminated};

pub type Latest = watch::Receiver<Arc<Pod>>;

/// How often a pod waiting on something that has no event of its own (an image pull
/// back-off, a missing ConfigMap) is synced again.
const RETRY: Duration = Duration::from_secs(5);

pub struct Worker {
    shared: Arc<Shared>,
    api: Api<Pod>,
    name: String,
    namespace: String,
    uid: String,
    sandbox: Option<Sandbox>,
    /// Its volumes and hosts file, once set up.
    prepared: Option<Prepared>,
    /// The objects fetched for the sandbox's volumes, which the containers started in the
    /// same sync use rather than fetching them again (dropped when the sync ends).
    fetched: Option<ObjectMap>,
    pod_ip: Option<String>,
    started: jiff::Timestamp,
    /// Init containers, then containers, in the pod's order.
    records: Vec<ContainerRecord>,
    /// When each container's last attempt (by id) exited, for the back-off.
    exited: HashMap<String, (String, Instant)>,
    backoff: Backoff,
    prober: Prober,
    posted: Option<Value>,
}

impl Worker {
    pub fn new(shared: Arc<Shared>, pod: &Pod) -> Self {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        // Containers not created yet wait `PodInitializing` in a pod with init containers.
        let initializing = specs(pod).any(|(_, init, _)| init);
        let mut records: Vec<ContainerRecord> = specs(pod)
            .map(|(c, init, sidecar)| {
                let mut r =
                    ContainerRecord::new(&c.name, c.image.as_deref().unwrap_or(""), init, sidecar);
                if initializing {
                    r.state = status::waiting("PodInitializing", None);
                }
                r
            })
            .collect();
        records.extend(ephemeral_records(pod, &records));
        Worker {
            api: Api::namespaced(shared.client.clone(), &namespace),
            shared,
            name: pod.metadata.name.clone().unwrap_or_default(),
            namespace,
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            sandbox: None,
            prepared: None,
            fetched: None,
            pod_ip: None,
            started: jiff::Timestamp::now(),
            records,
            exited: HashMap::new(),
            backoff: Backoff::default(),
            prober: Prober::new(pod),
            posted: None,
        }
    }

    /// Runs the pod until it is deleted (or gone from the API).
    pub async fn run(mut self, mut rx: Latest) {
        let mut exits = self.shared.runtime.exits();
        let first = rx.borrow().clone();
        self.adopt(&first).await;
        loop {
            let pod = rx.borrow_and_update().clone();
            if pod.metadata.deletion_timestamp.is_some() {
                self.terminate(&pod, &rx).await;
                return;
            }
            let mut wake = self.sync(&pod).await;
            let (probe_wake, changed) = self.probe(&pod).await;
            if changed {
                wake = earliest(wake, self.sync(&pod).await);
                self.prober.apply(&mut self.records);
            }
            let wake = earliest(wake, probe_wake);
            self.post_status(&pod).await;
            let deadline = wake.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            loop {
                tokio::select! {
                    changed = rx.changed() => {
                        if changed.is_err() {
                            // Deleted with no grace (forced): stop at once.
                            self.stop_all(Duration::ZERO, &pod).await;
                            self.release().await;
                            return;
                        }
                        break;
                    }
                    id = exits.recv() => match id {
                        Ok(id) if !self.owns(&id) => continue,
                        _ => break,
                    },
                    _ = tokio::time::sleep_until(deadline.into()) => break,
                }
            }
        }
    }

    fn owns(&self, id: &str) -> bool {
        self.records
            .iter()
            .any(|r| r.container_id.as_deref() == Some(&container_id(id)))
    }

    /// Takes over what already runs for this pod (an agent restart): its sandbox and the
    /// latest attempt of each container, with its restart count.
    async fn adopt(&mut self, pod: &Pod) {
        let runtime = &self.shared.runtime;
        self.sandbox = runtime.pod_sandbox(&self.uid);
        if self.sandbox.is_none() {
            return;
        }
        if let Some(status) = &pod.status {
            self.pod_ip = status.pod_ip.clone();
            if let Some(t) = &status.start_time {
                self.started = t.0;
            }
        }
        let Ok(containers) = runtime.list_containers().await else {
            return;
        };
        let sandbox_id = self.sandbox.as_ref().map(|s| s.id.clone());
        for c in containers
            .into_iter()
            .filter(|c| Some(&c.sandbox_id) == sandbox_id.as_ref())
        {
            let Some(r) = self.records.iter_mut().find(|r| r.name == c.name) else {
                continue;
            };
            if r.container_id.is_some() && r.restart_count > c.attempt {
                continue;
            }
            r.restart_count = c.attempt;
            r.image_id = c.image_id.clone();
            r.container_id = Some(container_id(&c.id));
            r.state = state_of(&c.state, &c.id, &mut self.exited, &r.name);
        }
    }

    /// One pass of syncPod; returns when to pass again if nothing else happens.
    async fn sync(&mut self, pod: &Pod) -> Option<Instant> {
        let wake = self.sync_containers(pod).await;
        self.fetched = None;
        wake
    }

    async fn sync_containers(&mut self, pod: &Pod) -> Option<Instant> {
        if self.finished(pod) {
            return None;
        }
        if ended(pod) {
            // The kubelet's SyncTerminatingPod: a pod that reached its end keeps nothing
            // running, neither ephemeral containers nor sidecars.
            self.stop_all(pod_grace(pod), pod).await;
            self.refresh().await;
            return None;
        }
        if (self.sandbox.is_none() || self.prepared.is_none())
            && let Err((reason, message)) = self.create_sandbox(pod).await
        {
            self.warn(pod, None, reason, message);
            return Some(Instant::now() + RETRY);
        }
        self.refresh().await;
        let restart_policy = restart_policy(pod);
        let list: Vec<(Container, bool, bool)> =
            specs(pod).map(|(c, i, s)| (c.clone(), i, s)).collect();
        let mut wake: Option<Instant> = self.start_ephemeral(pod).await;
        let mut earliest = |w: Option<Instant>| {
            if let Some(w) = w {
                wake = Some(wake.map_or(w, |x: Instant| x.min(w)));
            }
        };
        for (i, (c, init, sidecar)) in list.iter().enumerate() {
            if *init && !*sidecar {
                let r = &self.records[i];
                if r.succeeded() {
                    continue;
                }
                if r.is_running() {
                    return wake;
                }
                let failed = matches!(r.state, State::Terminated(_)) || r.last.is_some();
                if failed && restart_policy == "Never" {
                    return wake;
                }
                earliest(self.start_or_restart(pod, i, c).await);
                return wake;
            }
            let r = &self.records[i];
            if r.is_running() {
                continue;
            }
            let restart = match &r.state {
                State::Terminated(t) => {
                    *sidecar
                        || restart_policy == "Always"
                        || (restart_policy == "OnFailure" && t.exit_code != 0)
                }
                State::Waiting { .. } => true,
                State::Running { .. } => false,
            };
            if restart {
                earliest(self.start_or_restart(pod, i, c).await);
            }
            if *sidecar && !(self.records[i].is_running() && self.prober.started(&c.name)) {
                // Containers after a sidecar wait for it to run.
                return wake;
            }
        }
        wake
    }

    /// Starts the ephemeral containers not created yet, each once (never restarted, as the
    /// kubelet's `computePodActions`: even while init containers run); returns when to try
    /// again one that could not be created.
    async fn start_ephemeral(&mut self, pod: &Pod) -> Option<Instant> {
        let added = ephemeral_records(pod, &self.records);
        self.records.extend(added);
        let mut wake = None;
        for (c, _) in ephemeral_specs(pod) {
            let at = self
                .records
                .iter()
                .position(|r| r.ephemeral && r.name == c.name);
            if let Some(i) = at
                && self.records[i].container_id.is_none()
            {
                wake = earliest(wake, self.start(pod, i, &c).await);
            }
        }
        wake
    }

    /// The PID namespace of a running (non-ephemeral) container of the pod: `target`'s for
    /// an ephemeral container that names one, else any (`shareProcessNamespace`).
    async fn pid_namespace_of(&self, target: Option<&str>) -> Option<std::path::PathBuf> {
        for r in self
            .records
            .iter()
            .filter(|r| !r.ephemeral && target.is_none_or(|t| r.name == t))
        {
            let Some(id) = r.container_id.as_deref().and_then(runtime_id) else {
                continue;
            };
            if let Ok(status) = self.shared.runtime.container_status(id).await
                && let ContainerState::Running { pid, .. } = status.state
            {
                return Some(format!("/proc/{pid}/ns/pid").into());
            }
        }
        None
    }

    /// Whether the pod reached a phase it never leaves and nothing of it runs.
    fn finished(&self, pod: &Pod) -> bool {
        ended(pod) && self.records.iter().all(|r| !r.is_running())
    }

    /// The pod's volumes, sandbox, network and hosts file; an error is an Event's reason
    /// and message.
    async fn create_sandbox(&mut self, pod: &Pod) -> Result<(), (&'static str, String)> {
        let shared = self.shared.clone();
        let failed = |m: String| {
            (
                "FailedCreatePodSandBox",
                format!("Failed to create pod sandbox: {m}"),
            )
        };
        // The sandbox and its network are made while the pod's objects are fetched (neither
        // needs the other), the network as soon as the namespace is held (beside the pod
        // cgroup); it counts as ready only once its volumes and network are.
        let existing = self.sandbox.clone();
        let uid = self.uid.as_str();
        let attach = async |netns: Option<&std::path::Path>| match netns {
            Some(netns) => match shared.network().await {
                Ok(network) => network
                    .attach(uid, netns, &prepare::host_ports(pod))
                    .await
                    .map(|address| address.ip.to_string())
                    .map_err(|e| failed(format!("failed to set up the pod network: {e}"))),
                Err(e) => Err(failed(e)),
            },
            None => Ok(shared.host_ip.clone()),
        };
        let making = async {
            if let Some(sandbox) = existing {
                let ip = attach(sandbox.netns.as_deref()).await;
                return (Some(sandbox), ip);
            }
            let spec = prepare::sandbox_spec(&shared, pod);
            match shared.runtime.run_sandbox_with(&spec, attach).await {
                Ok((sandbox, ip)) => (Some(sandbox), ip),
                Err(e) => {
                    // The network may have been attached before the sandbox failed.
                    if let Ok(network) = shared.network().await {
                        let _ = network.detach(uid, None).await;
                    }
                    (None, Err(failed(e.to_string())))
                }
            }
        };
        let (objects, (sandbox, ip)) = tokio::join!(prepare::objects(&shared, pod), making);
        if let Some(sandbox) = sandbox {
            if self.sandbox.is_none() {
                self.started = jiff::Timestamp::now();
            }
            self.sandbox = Some(sandbox);
        }
        let ip = ip?;
        let volumes = prepare::volumes(&shared, pod, &objects).map_err(|m| ("FailedMount", m))?;
        self.pod_ip = Some(ip);
        let (files, warnings) =
            prepare::pod_files(&shared, pod, &self.pod_ips()).map_err(failed)?;
        for w in warnings {
            self.warn(pod, None, "DNSConfigForming", w);
        }
        self.prepared = Some(Prepared {
            volumes,
            files: Some(files),
        });
        self.fetched = Some(objects);
        Ok(())
    }

    fn pod_ips(&self) -> Vec<String> {
        self.pod_ip.iter().cloned().collect()
    }

    /// Reads the state of every container that has been created.
    async fn refresh(&mut self) {
        for r in &mut self.records {
            let Some(id) = r.container_id.as_deref().and_then(runtime_id) else {
                continue;
            };
            if let Ok(c) = self.shared.runtime.container_status(id).await {
                r.image_id = c.image_id.clone();
                let state = state_of(&c.state, &c.id, &mut self.exited, &r.name);
                r.state = match (&r.state, state) {
                    // A waiting reason of ours (back-off) stays until the next start.
                    (State::Waiting { .. }, State::Terminated(_)) => r.state.clone(),
                    (_, s) => s,
                };
            }
        }
    }

    /// Starts container `i` unless its back-off says wait; returns when to try again.
    async fn start_or_restart(&mut self, pod: &Pod, i: usize, c: &Container) -> Option<Instant> {
        let now = Instant::now();
        let r = &self.records[i];
        let previous = match &r.state {
            State::Terminated(t) => Some(t.clone()),
            _ => None,
        };
        if r.container_id.is_some() {
            let key = r.name.clone();
            let finished = self.exited.get(&key).map_or(now, |(_, t)| *t);
            if let Some(until) = self.backoff.wait_until(&key, finished, now) {
                let delay = backoff::go_duration(self.backoff.delay(&key));
                let who = format!("{}_{}({})", self.name, self.namespace, self.uid);
                let r = &mut self.records[i];
                if let Some(t) = previous {
                    r.last = Some(t);
                }
                r.state = status::waiting(
                    "CrashLoopBackOff",
                    Some(format!(
                        "back-off {delay} restarting failed container={} pod={who}",
                        c.name
                    )),
                );
                let list = r.list();
                let message = format!(
                    "Back-off restarting failed container {} in pod {who}",
                    c.name
                );
                self.warn(pod, Some(field_of(&c.name, list)), "BackOff", message);
                return Some(until);
            }
            self.backoff.next(&key, now);
            let r = &mut self.records[i];
            if let Some(t) = previous {
                r.last = Some(t);
            }
            r.restart_count += 1;
        }
        self.start(pod, i, c).await
    }

    /// Pulls the image, creates and starts one attempt of container `i`.
    async fn start(&mut self, pod: &Pod, i: usize, c: &Container) -> Option<Instant> {
        let shared = self.shared.clone();
        let fieldpath = field_of(&c.name, self.records[i].list());
        let pulled = match shared
            .images
            .ensure(pod, c, &shared.pull_secrets(pod).await)
            .await
        {
            Ok(p) => p,
            Err(e) => {
                let reason = e.reason();
                self.warn(pod, Some(fieldpath), "Failed", format!("Error: {reason}"));
                self.records[i].state = status::waiting(reason, Some(e.message().to_string()));
                return Some(Instant::now() + RETRY);
            }
        };
        self.records[i].image_id = pulled.repo_digest();
        let sandbox = self.sandbox.clone().expect("sandbox exists");
        let attempt = self.records[i].restart_count;
        let fresh;
        let objects = match &self.fetched {
            Some(objects) => objects,
            None => {
                fresh = prepare::objects(&shared, pod).await;
                &fresh
            }
        };
        let prepared = self.prepared.as_ref().expect("prepared with the sandbox");
        let built = prepare::container_spec(
            &shared,
            pod,
            c,
            &sandbox,
            &pulled,
            attempt,
            &self.pod_ips(),
            objects,
            prepared,
        );
        let mut spec = match built {
            Ok((spec, warnings)) => {
                for w in warnings {
                    self.warn(pod, None, "InvalidEnvironmentVariableNames", w);
                }
                spec
            }
            Err(message) => {
                self.warn(pod, Some(fieldpath), "Failed", format!("Error: {message}"));
                self.records[i].state =
                    status::waiting("CreateContainerConfigError", Some(message));
                return Some(Instant::now() + RETRY);
            }
        };
        let target = ephemeral_specs(pod)
            .into_iter()
            .find(|(e, _)| self.records[i].ephemeral && e.name == c.name)
            .and_then(|(_, target)| target);
        let shares_processes = pod
            .spec
            .as_ref()
            .and_then(|s| s.share_process_namespace)
            .unwrap_or(false);
        if shares_processes {
            // One PID namespace for the pod, held by its first running container (no pause
            // process holds it): joined when there is one, made by this one otherwise.
            spec.pid_namespace = self.pid_namespace_of(None).await;
        } else if let Some(target) = target {
            // The kubelet's `getTargetID`: the target must be running.
            let Some(ns) = self.pid_namespace_of(Some(&target)).await else {
                let message = format!("unable to find target container {target}");
                self.warn(pod, Some(fieldpath), "Failed", format!("Error: {message}"));
                self.records[i].state =
                    status::waiting("CreateContainerConfigError", Some(message));
                return Some(Instant::now() + RETRY);
            };
            spec.pid_namespace = Some(ns);
        }
        // The attempt before the previous one is removed (its log file stays for `-p`).
        if let Some(old) = self.records[i]
            .container_id
            .take()
            .as_deref()
            .and_then(runtime_id)
        {
            let _ = shared.runtime.remove_container(old).await;
        }
        let id = match shared.runtime.create_container(&spec).await {
            Ok(id) => id,
            Err(e) => {
                let message = e.to_string();
                self.warn(pod, Some(fieldpath), "Failed", format!("Error: {message}"));
                self.records[i].state = status::waiting("CreateContainerError", Some(message));
                return Some(Instant::now() + RETRY);
            }
        };
        self.records[i].container_id = Some(container_id(&id));
        self.event(
            pod,
            Some(fieldpath.clone()),
            "Created",
            format!("Created container: {}", c.name),
        );
        if let Err(e) = shared.runtime.start_container(&id).await {
            let message = e.to_string();
            self.warn(pod, Some(fieldpath), "Failed", format!("Error: {message}"));
            self.records[i].state = State::Terminated(Terminated {
                exit_code: 128,
                signal: None,
                reason: "StartError".into(),
                message: Some(message),
                started_at: None,
                finished_at: jiff::Timestamp::now(),
                container_id: container_id(&id),
            });
            self.exited
                .insert(c.name.clone(), (id.clone(), Instant::now()));
            return Some(Instant::now());
        }
        self.event(
            pod,
            Some(fieldpath.clone()),
            "Started",
            format!("Started container {}", c.name),
        );
        let at = Running {
            id: &id,
            pod_ip: self.pod_ip.as_deref(),
            field: fieldpath,
        };
        if hooks::post_start(&shared, pod, c, &at).await.is_err() {
            let grace = pod_grace(pod);
            let message = "FailedPostStartHook".to_string();
            hooks::kill(&shared, pod, Some(c), &at, grace, message).await;
        }
        if let Ok(status) = shared.runtime.container_status(&id).await {
            self.records[i].state = state_of(&status.state, &id, &mut self.exited, &c.name);
        }
        None
    }

    /// Stops every running container (Killing Events, preStop hooks), main containers
    /// first and then sidecars in reverse order, all within `grace`.
    async fn stop_all(&mut self, grace: Duration, pod: &Pod) {
        let began = Instant::now();
        let order: Vec<(bool, Vec<usize>)> = vec![
            (
                false,
                (0..self.records.len())
                    .filter(|&i| !self.records[i].init)
                    .collect(),
            ),
            (
                true,
                (0..self.records.len())
                    .rev()
                    .filter(|&i| self.records[i].sidecar)
                    .collect(),
            ),
        ];
        for (one_by_one, list) in order {
            let mut stops = Vec::new();
            for i in list {
                let r = &self.records[i];
                if !r.is_running() {
                    continue;
                }
                let Some(id) = r.container_id.as_deref().and_then(runtime_id) else {
                    continue;
                };
                let c = specs(pod).find(|(c, _, _)| c.name == r.name);
                let shared = self.shared.clone();
                let (id, name, list) = (id.to_string(), r.name.clone(), r.list());
                let c = c.map(|(c, _, _)| c.clone());
                let pod_ip = self.pod_ip.clone();
                let left = grace.saturating_sub(began.elapsed());
                stops.push(async move {
                    let at = Running {
                        id: &id,
                        pod_ip: pod_ip.as_deref(),
                        field: field_of(&name, list),
                    };
                    let message = format!("Stopping container {name}");
                    hooks::kill(&shared, pod, c.as_ref(), &at, left, message).await;
                });
            }
            if one_by_one {
                for stop in stops {
                    stop.await;
                }
            } else {
                futures::future::join_all(stops).await;
            }
        }
        self.refresh().await;
    }

    /// Runs the probes that are due; returns when the next one is, and whether a result
    /// changed what syncPod does (a container killed, or started).
    async fn probe(&mut self, pod: &Pod) -> (Option<Instant>, bool) {
        let mut changed = false;
        // A startup probe that passed lets the others run at once (after an agent restart,
        // readiness is known before the status is posted).
        for _ in 0..2 {
            let (round_changed, startup_passed) = self.probe_round(pod).await;
            changed |= round_changed;
            if !startup_passed {
                break;
            }
        }
        self.prober.apply(&mut self.records);
        (self.prober.due(&self.records, Instant::now()).1, changed)
    }

    /// Runs the probes due now; returns whether a result changed what syncPod does, and
    /// whether a startup probe passed.
    async fn probe_round(&mut self, pod: &Pod) -> (bool, bool) {
        self.prober.follow(&self.records);
        let (due, _) = self.prober.due(&self.records, Instant::now());
        let (mut changed, mut startup_passed) = (false, false);
        if !due.is_empty() {
            let runs = due.iter().map(|&k| {
                let s = &self.prober.schedules[k];
                let c = specs(pod)
                    .find(|(c, _, _)| c.name == s.container)
                    .map(|(c, _, _)| c.clone());
                let id = self
                    .records
                    .iter()
                    .find(|r| r.name == s.container)
                    .and_then(|r| r.container_id.clone());
                let (action, timeout) = (Action::of_probe(&s.probe), s.timeout());
                let (shared, pod_ip) = (self.shared.clone(), self.pod_ip.clone());
                async move {
                    let (Some(c), Some(id)) = (c, id) else {
                        return Outcome::Failure("the container is gone".into());
                    };
                    let target = Target {
                        runtime: &shared.runtime,
                        id: runtime_id(&id).unwrap_or_default(),
                        container: &c,
                        pod_ip: pod_ip.as_deref(),
                    };
                    probes::run(&action, &target, timeout).await
                }
            });
            let outcomes = futures::future::join_all(runs).await;
            for (&k, outcome) in due.iter().zip(outcomes) {
                let s = &mut self.prober.schedules[k];
                let (kind, name) = (s.kind, s.container.clone());
                let grace = s.probe.termination_grace_period_seconds;
                let change = s.record(matches!(outcome, Outcome::Success(_)), Instant::now());
                if let Outcome::Failure(output) = outcome {
                    let field = self
                        .records
                        .iter()
                        .find(|r| r.name == name)
                        .map(|r| field_of(&name, r.list()));
                    let message = format!("{} probe failed: {output}", kind.title());
                    self.warn(pod, field, "Unhealthy", message);
                }
                match change {
                    Change::None => {}
                    Change::Flipped => {
                        changed = true;
                        startup_passed |= kind == Kind::Startup;
                    }
                    Change::Kill => {
                        changed = true;
                        self.kill_unhealthy(pod, &name, kind, grace).await;
                    }
                }
            }
        }
        (changed, startup_passed)
    }

    /// Kills a container whose liveness or startup probe failed (the probe's grace period,
    /// else the pod's); syncPod restarts it by the restart policy.
    async fn kill_unhealthy(&mut self, pod: &Pod, name: &str, kind: Kind, grace: Option<i64>) {
        let Some(r) = self.records.iter().find(|r| r.name == name) else {
            return;
        };
        let Some(id) = r.container_id.clone() else {
            return;
        };
        let c = specs(pod)
            .find(|(c, _, _)| c.name == name)
            .map(|(c, _, _)| c.clone());
        let grace = grace.map_or_else(|| pod_grace(pod), |g| Duration::from_secs(g.max(0) as u64));
        let at = Running {
            id: runtime_id(&id).unwrap_or_default(),
            pod_ip: self.pod_ip.as_deref(),
            field: field_of(name, r.list()),
        };
        let what = if kind == Kind::Startup {
            "startup"
        } else {
            "liveness"
        };
        let message = format!("Container {name} failed {what} probe, will be restarted");
        hooks::kill(&self.shared, pod, c.as_ref(), &at, grace, message).await;
        self.refresh().await;
    }

    /// Graceful deletion: stop, post the final status, release, delete for good.
    async fn terminate(&mut self, pod: &Pod, rx: &Latest) {
        let grace = pod
            .metadata
            .deletion_grace_period_seconds
            .unwrap_or(30)
            .max(0) as u64;
        self.stop_all(Duration::from_secs(grace), pod).await;
        if self.sandbox.is_some() {
            let latest = rx.borrow().clone();
            self.post_status(&latest).await;
        }
        self.release().await;
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(self.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        let mut delay = Duration::from_millis(100);
        for _ in 0..8 {
            match self.api.delete(&self.name, &params).await {
                Ok(_) => return,
                Err(kube::Error::Api(e)) if matches!(e.code, 404 | 409) => return,
                Err(e) => {
                    tracing::debug!(pod = %self.name, error = %e, "deleting; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Gives back the sandbox: network, namespaces, containers, volumes.
    async fn release(&mut self) {
        let shared = &self.shared;
        if let Some(sandbox) = self.sandbox.take() {
            if sandbox.netns.is_some()
                && let Ok(network) = shared.network().await
                && let Err(e) = network.detach(&self.uid, sandbox.netns.as_deref()).await
            {
                tracing::warn!(pod = %self.name, error = %e, "releasing the pod network");
            }
            if let Err(e) = shared.runtime.remove_sandbox(&sandbox.id).await {
                tracing::warn!(pod = %self.name, error = %e, "removing the pod sandbox");
            }
        }
        self.prepared = None;
        shared.tokens.forget(&self.uid);
        prepare::teardown(shared, &self.uid);
    }

    /// Patches `pods/status` when it changed since the last patch.
    async fn post_status(&mut self, pod: &Pod) {
        self.prober.apply(&mut self.records);
        let placement = Placement {
            host_ip: self.shared.host_ip.clone(),
            pod_ip: self.pod_ip.clone(),
            started: self.started,
            sandbox_ready: self.prepared.is_some(),
        };
        let body = status::patch(pod, &placement, &self.records);
        if self.posted.as_ref() == Some(&body) {
            return;
        }
        match self
            .api
            .patch_status(
                &self.name,
                &PatchParams::default(),
                &Patch::Strategic(&body),
            )
            .await
        {
            Ok(_) => self.posted = Some(body),
            Err(e) => tracing::debug!(pod = %self.name, error = %e, "patching pod status"),
        }
    }

    fn event(&self, pod: &Pod, field: Option<String>, reason: &str, message: String) {
        self.shared
            .events
            .pod(pod, &self.shared.name, field, reason, message);
    }

    fn warn(&self, pod: &Pod, field: Option<String>, reason: &str, message: String) {
        self.shared
            .events
            .pod_warning(pod, &self.shared.name, field, reason, message);
    }
}

/// The pod's containers in the order they run: init containers (with whether each is a
/// sidecar), then containers.
fn specs(pod: &Pod) -> impl Iterator<Item = (&Container, bool, bool)> {
    let spec = pod.spec.as_ref();
    let inits = spec
        .into_iter()
        .flat_map(|s| s.init_containers.iter().flatten())
        .map(|c| {
            let sidecar = c.restart_policy.as_deref() == Some("Always");
            (c, true, sidecar)
        });
    let containers = spec
        .into_iter()
        .flat_map(|s| s.containers.iter())
        .map(|c| (c, false, false));
    inits.chain(containers)
}

/// Whether the pod reached a phase it never leaves (`Succeeded`, `Failed`).
fn ended(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    matches!(phase, Some("Succeeded" | "Failed"))
}

/// Records for the pod's ephemeral containers that `records` does not have yet.
fn ephemeral_records(pod: &Pod, records: &[ContainerRecord]) -> Vec<ContainerRecord> {
    ephemeral_specs(pod)
        .into_iter()
        .filter(|(c, _)| !records.iter().any(|r| r.ephemeral && r.name == c.name))
        .map(|(c, _)| ContainerRecord::new_ephemeral(&c.name, c.image.as_deref().unwrap_or("")))
        .collect()
}

fn restart_policy(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always")
}

/// `spec.containers{name}` (or `spec.initContainers{…}`, `spec.ephemeralContainers{…}`:
/// `list`), the field path of the kubelet's container Events.
fn field_of(name: &str, list: &str) -> String {
    format!("spec.{list}{{{name}}}")
}

/// The pod's ephemeral containers as containers (the fields they share), each with its
/// `targetContainerName`.
fn ephemeral_specs(pod: &Pod) -> Vec<(Container, Option<String>)> {
    let list = pod
        .spec
        .as_ref()
        .and_then(|s| s.ephemeral_containers.as_ref());
    list.into_iter()
        .flatten()
        .filter_map(|e| {
            let target = e.target_container_name.clone().filter(|t| !t.is_empty());
            let mut v = serde_json::to_value(e).ok()?;
            v.as_object_mut()?.remove("targetContainerName");
            Some((serde_json::from_value(v).ok()?, target))
        })
        .collect()
}

/// The pod's `terminationGracePeriodSeconds` (30 unless set).
fn pod_grace(pod: &Pod) -> Duration {
    let seconds = pod
        .spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(30);
    Duration::from_secs(seconds.max(0) as u64)
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The id the API shows: `krust://<id>`.
pub fn container_id(id: &str) -> String {
    format!("krust://{id}")
}

fn runtime_id(shown: &str) -> Option<&str> {
    shown.strip_prefix("krust://")
}

fn timestamp(t: SystemTime) -> jiff::Timestamp {
    jiff::Timestamp::try_from(t).unwrap_or_else(|_| jiff::Timestamp::now())
}

/// A container's state as the API shows it; notes when an exited one finished.
fn state_of(
    state: &ContainerState,
    id: &str,
    exited: &mut HashMap<String, (String, Instant)>,
    name: &str,
) -> State {
    match state {
        ContainerState::Created { .. } => status::waiting("ContainerCreating", None),
        ContainerState::Running { started_at, .. } => State::Running {
            started_at: timestamp(*started_at),
            ready: true,
        },
        ContainerState::Exited {
            exit_code,
            reason,
            message,
            started_at,
            finished_at,
        } => {
            let ago = SystemTime::now()
                .duration_since(*finished_at)
                .unwrap_or_default();
            if exited.get(name).is_none_or(|(seen, _)| seen != id) {
                let at = Instant::now().checked_sub(ago).unwrap_or_else(Instant::now);
                exited.insert(name.into(), (id.into(), at));
            }
            let reason = reason.clone().unwrap_or_else(|| {
                if *exit_code == 0 {
                    "Completed"
                } else {
                    "Error"
                }
                .into()
            });
            State::Terminated(Terminated {
                exit_code: *exit_code,
                signal: None,
                reason,
                message: message.clone(),
                started_at: started_at.map(timestamp),
                finished_at: timestamp(*finished_at),
                container_id: container_id(id),
            })
        }
    }
}
