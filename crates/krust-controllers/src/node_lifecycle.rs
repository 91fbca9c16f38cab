//! The node lifecycle controller: node health from kubelet heartbeats, condition taints, and
//! taint-based eviction.
//!
//! - A node's kubelet is alive while its Lease (`kube-node-lease/<node>`) is renewed or its
//!   Ready condition's heartbeat moves. As in Kubernetes, what counts is when *this
//!   controller* saw a new renewTime or heartbeat (clocks of other machines are not trusted).
//!   Silent for longer than the grace period (40 s; 60 s for a node that never posted a Ready
//!   condition), its Ready, MemoryPressure, DiskPressure and PIDPressure conditions become
//!   Unknown ("Kubelet stopped posting node status."), a `NodeNotReady` Event is posted, and
//!   the pods on it are marked not ready.
//! - Taints follow conditions: Ready Unknown → `node.kubernetes.io/unreachable` NoSchedule
//!   and NoExecute; Ready False → `node.kubernetes.io/not-ready` likewise; pressure
//!   conditions and `spec.unschedulable` → their NoSchedule taints. They go when the
//!   condition does (the kubelet posting Ready again).
//! - Pods on a node with NoExecute taints they do not tolerate are deleted at once; those
//!   tolerating them with `tolerationSeconds` are deleted that long after the taint was first
//!   seen on their node (the API server gives every pod 300 s tolerations of `not-ready` and
//!   `unreachable`).
//!
//! Nodes, Leases and pods are watched into stores; two periodic passes (health every
//! `monitor_period`, eviction every `eviction_check_interval`) read only those. Writes are
//! pinned to the resourceVersion read, so a pass on a stale store fails harmlessly.

mod eviction;
mod health;

use self::eviction::{Verdict, verdict};
use self::health::{NO_EXECUTE, retainted, silenced, status};
use crate::informer::{for_each_change, reflect, synced};
use crate::informers::Informers;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use krust_component::events::{Recorder, versioned_reference};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use self::health::{NOT_READY, UNREACHABLE};

const NODE_CONTROLLER: &str = "node-controller";
const EVICTION_CONTROLLER: &str = "taint-eviction-controller";
/// Where kubelets keep their heartbeat Leases.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";

/// Timings (kube-controller-manager's flags).
#[derive(Clone, Debug)]
pub struct Options {
    /// `--node-monitor-grace-period`: silence after which a node is Unknown.
    pub grace_period: Duration,
    /// `--node-startup-grace-period`: the same for a node that never posted a Ready condition.
    pub startup_grace_period: Duration,
    /// `--node-monitor-period`: how often node health is checked.
    pub monitor_period: Duration,
    /// How often pods on NoExecute-tainted nodes are checked for eviction.
    pub eviction_check_interval: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            grace_period: Duration::from_secs(40),
            startup_grace_period: Duration::from_secs(60),
            monitor_period: Duration::from_secs(5),
            eviction_check_interval: Duration::from_secs(1),
        }
    }
}

/// When the controller last saw a node's kubelet do something.
struct Probe {
    renew: Option<String>,
    heartbeat: Option<String>,
    at: Instant,
}

struct Ctx {
    client: Client,
    /// Events from the node controller (node health).
    node_recorder: Recorder,
    /// Events from the taint eviction controller.
    eviction_recorder: Recorder,
    opts: Options,
    nodes: Store<Node>,
    leases: Store<Lease>,
    pods: Store<Pod>,
    probes: Mutex<HashMap<String, Probe>>,
    /// Pods (by UID) due for eviction, with when their node's taints were first seen.
    pending: Mutex<HashMap<String, Instant>>,
    /// Pods (by UID) already evicted, until they leave the store.
    evicted: Mutex<HashSet<String>>,
}

/// Runs this controller with the default timings until it fails.
pub async fn run(informers: Informers) -> anyhow::Result<()> {
    run_with(informers, Options::default()).await
}

/// Runs this controller until it fails.
pub async fn run_with(informers: Informers, opts: Options) -> anyhow::Result<()> {
    let client = informers.client().clone();
    let cfg = watcher::Config::default;
    let (nodes, node_events) = reflect(Api::<Node>::all(client.clone()), cfg());
    let (leases, lease_events) = reflect(
        Api::<Lease>::namespaced(client.clone(), LEASE_NAMESPACE),
        cfg(),
    );
    let (pods, pod_events) = informers.reflect::<Pod>();
    let ctx = Arc::new(Ctx {
        node_recorder: Recorder::direct(client.clone(), NODE_CONTROLLER),
        eviction_recorder: Recorder::direct(client.clone(), EVICTION_CONTROLLER),
        client,
        opts,
        nodes,
        leases,
        pods,
        probes: Mutex::default(),
        pending: Mutex::default(),
        evicted: Mutex::default(),
    });
    let watches = async {
        tokio::join!(
            for_each_change(node_events, |_, _| {}, |_| {}),
            for_each_change(lease_events, |_, _| {}, |_| {}),
            for_each_change(pod_events, |_, _| {}, |_| {}),
        )
    };
    let passes = async {
        synced(&[&ctx.nodes, &ctx.leases, &ctx.pods]).await;
        let monitor = async {
            let mut tick = tokio::time::interval(ctx.opts.monitor_period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                ctx.monitor().await;
            }
        };
        let evict = async {
            let mut tick = tokio::time::interval(ctx.opts.eviction_check_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                ctx.evict().await;
            }
        };
        tokio::join!(monitor, evict)
    };
    tokio::join!(watches, passes);
    anyhow::bail!("the node lifecycle controller's watches ended")
}

/// Pods by the node they are bound to.
fn pods_by_node(pods: &Store<Pod>) -> HashMap<String, Vec<Arc<Pod>>> {
    let mut out: HashMap<String, Vec<Arc<Pod>>> = HashMap::new();
    for pod in pods.state() {
        if let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone())
            && !node.is_empty()
        {
            out.entry(node).or_default().push(pod);
        }
    }
    out
}

/// A merge patch pinned to `rv`.
fn pinned(rv: Option<String>, mut patch: Value) -> Value {
    patch["metadata"]["resourceVersion"] = json!(rv);
    patch
}

/// Writes that fail on a stale resourceVersion or a vanished object are retried by the next
/// pass; others are logged.
fn log_failure(what: &str, name: &str, e: &kube::Error) {
    match e {
        kube::Error::Api(s) if s.code == 409 || s.code == 404 => {
            tracing::debug!(what, name, error = %s.message, "write skipped")
        }
        e => tracing::warn!(what, name, error = %e, "write failed"),
    }
}

impl Ctx {
    /// One health pass over every node.
    async fn monitor(&self) {
        let nodes = self.nodes.state();
        let by_node = pods_by_node(&self.pods);
        {
            let names: HashSet<String> = nodes.iter().map(|n| n.name_any()).collect();
            self.probes
                .lock()
                .expect("probes lock")
                .retain(|n, _| names.contains(n));
        }
        for node in nodes {
            let mut node = (*node).clone();
            let name = node.name_any();
            if self.silent(&node) {
                let before = status(&node, "Ready").map(String::from);
                if let Some(conditions) = silenced(&node, jiff::Timestamp::now()) {
                    match self.write_conditions(&node, conditions).await {
                        Ok(updated) => {
                            tracing::info!(node = %name, "kubelet stopped posting node status");
                            if before.as_deref() == Some("True") {
                                let message = format!("Node {name} status is now: NodeNotReady");
                                self.node_recorder
                                    .normal(&versioned_reference(&node), "NodeNotReady", &message)
                                    .await;
                            }
                            node = updated;
                        }
                        Err(e) => {
                            log_failure("node status", &name, &e);
                            continue;
                        }
                    }
                }
            }
            if let Some(taints) = retainted(&node, jiff::Timestamp::now()) {
                let api: Api<Node> = Api::all(self.client.clone());
                let taints = if taints.is_empty() {
                    json!(null)
                } else {
                    json!(taints)
                };
                let patch = pinned(node.resource_version(), json!({"spec": {"taints": taints}}));
                match api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    Ok(_) => tracing::debug!(node = %name, "taints updated"),
                    Err(e) => log_failure("node taints", &name, &e),
                }
            }
            if status(&node, "Ready") != Some("True") && status(&node, "Ready").is_some() {
                for pod in by_node.get(&name).into_iter().flatten() {
                    self.mark_not_ready(pod).await;
                }
            }
        }
    }

    /// Whether the node's kubelet has been silent past its grace period (updating what was
    /// last seen of it).
    fn silent(&self, node: &Node) -> bool {
        let name = node.name_any();
        let renew = self
            .leases
            .get(&ObjectRef::new(&name).within(LEASE_NAMESPACE))
            .and_then(|l| {
                l.spec
                    .as_ref()?
                    .renew_time
                    .as_ref()
                    .map(|t| t.0.to_string())
            });
        let ready = health::conditions(node).iter().find(|c| c.type_ == "Ready");
        let heartbeat = ready.and_then(|c| c.last_heartbeat_time.as_ref().map(|t| t.0.to_string()));
        let now = Instant::now();
        let mut probes = self.probes.lock().expect("probes lock");
        let probe = probes.entry(name).or_insert_with(|| Probe {
            renew: renew.clone(),
            heartbeat: heartbeat.clone(),
            at: now,
        });
        if probe.renew != renew || probe.heartbeat != heartbeat {
            *probe = Probe {
                renew,
                heartbeat,
                at: now,
            };
        }
        let grace = if ready.is_some() {
            self.opts.grace_period
        } else {
            self.opts.startup_grace_period
        };
        now.duration_since(probe.at) > grace
    }

    async fn write_conditions(
        &self,
        node: &Node,
        conditions: Vec<k8s_openapi::api::core::v1::NodeCondition>,
    ) -> Result<Node, kube::Error> {
        let api: Api<Node> = Api::all(self.client.clone());
        let patch = pinned(
            node.resource_version(),
            json!({"status": {"conditions": conditions}}),
        );
        api.patch_status(
            &node.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    }

    /// Sets a pod's Ready condition to False (its node is not ready).
    async fn mark_not_ready(&self, pod: &Pod) {
        let Some(status) = &pod.status else { return };
        let mut conditions = status.conditions.clone().unwrap_or_default();
        let Some(ready) = conditions.iter_mut().find(|c| c.type_ == "Ready") else {
            return;
        };
        if ready.status == "False" {
            return;
        }
        ready.status = "False".into();
        ready.last_transition_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            jiff::Timestamp::now(),
        ));
        let ns = pod.namespace().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let patch = pinned(
            pod.resource_version(),
            json!({"status": {"conditions": conditions}}),
        );
        match api
            .patch_status(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => {
                self.node_recorder
                    .warning(
                        &versioned_reference(pod),
                        "NodeNotReady",
                        "Node is not ready",
                    )
                    .await
            }
            Err(e) => log_failure("pod readiness", &pod.name_any(), &e),
        }
    }

    /// One eviction pass: pods on NoExecute-tainted nodes that are due go.
    async fn evict(&self) {
        let by_node = pods_by_node(&self.pods);
        let now = Instant::now();
        let mut due: Vec<Arc<Pod>> = Vec::new();
        let mut cancelled: Vec<Arc<Pod>> = Vec::new();
        {
            let mut pending = self.pending.lock().expect("pending lock");
            let mut evicted = self.evicted.lock().expect("evicted lock");
            let mut seen: HashSet<String> = HashSet::new();
            for node in self.nodes.state() {
                let taints: Vec<_> = health::taints(&node)
                    .iter()
                    .filter(|t| t.effect == NO_EXECUTE)
                    .collect();
                for pod in by_node.get(&node.name_any()).into_iter().flatten() {
                    let uid = pod.uid().unwrap_or_default();
                    seen.insert(uid.clone());
                    if pod.metadata.deletion_timestamp.is_some() || evicted.contains(&uid) {
                        continue;
                    }
                    let tolerations = pod
                        .spec
                        .as_ref()
                        .and_then(|s| s.tolerations.as_deref())
                        .unwrap_or_default();
                    match verdict(&taints, tolerations) {
                        Verdict::Stay => {
                            if pending.remove(&uid).is_some() {
                                cancelled.push(pod.clone());
                            }
                        }
                        Verdict::Now => due.push(pod.clone()),
                        Verdict::After(wait) => {
                            let since = *pending.entry(uid).or_insert(now);
                            if now.duration_since(since) >= wait {
                                due.push(pod.clone());
                            }
                        }
                    }
                }
            }
            pending.retain(|uid, _| seen.contains(uid));
            evicted.retain(|uid| seen.contains(uid));
            for pod in &due {
                let uid = pod.uid().unwrap_or_default();
                pending.remove(&uid);
                evicted.insert(uid);
            }
        }
        for pod in cancelled {
            let name = format!("{}/{}", pod.namespace().unwrap_or_default(), pod.name_any());
            let message = format!("Cancelling deletion of Pod {name}");
            self.eviction_recorder
                .normal(
                    &versioned_reference(pod.as_ref()),
                    "TaintManagerEviction",
                    &message,
                )
                .await;
        }
        for pod in due {
            self.evict_pod(&pod).await;
        }
    }

    /// Marks the pod as disrupted, then deletes it (with its own grace period).
    async fn evict_pod(&self, pod: &Pod) {
        let ns = pod.namespace().unwrap_or_default();
        let name = pod.name_any();
        tracing::info!(pod = %format!("{ns}/{name}"), "evicting a pod from a tainted node");
        let message = format!("Marking for deletion Pod {ns}/{name}");
        self.eviction_recorder
            .normal(&versioned_reference(pod), "TaintManagerEviction", &message)
            .await;
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let mut conditions = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        conditions.retain(|c| c.type_ != "DisruptionTarget");
        conditions.push(k8s_openapi::api::core::v1::PodCondition {
            type_: "DisruptionTarget".into(),
            status: "True".into(),
            reason: Some("DeletionByTaintManager".into()),
            message: Some("Taint manager: deleting due to NoExecute taint".into()),
            last_transition_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                jiff::Timestamp::now(),
            )),
            ..Default::default()
        });
        let patch = pinned(
            pod.resource_version(),
            json!({"status": {"conditions": conditions}}),
        );
        if let Err(e) = api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            log_failure("pod disruption condition", &name, &e);
        }
        let dp = DeleteParams {
            preconditions: Some(kube::api::Preconditions {
                uid: pod.uid(),
                resource_version: None,
            }),
            ..Default::default()
        };
        if let Err(e) = api.delete(&name, &dp).await {
            log_failure("pod eviction", &name, &e);
            if !matches!(&e, kube::Error::Api(s) if s.code == 404 || s.code == 409) {
                // Let the next pass try again.
                self.evicted
                    .lock()
                    .expect("evicted lock")
                    .remove(&pod.uid().unwrap_or_default());
            }
        }
    }
}
