//! One sim node: registration, status reports and heartbeats, and the watch of sim Nodes
//! (their `spec.podCIDR`, Ready conditions changed by someone else, and the annotation that
//! stops a node).

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, NodeCondition};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use super::{STOPPED_ANNOTATION, Shared, SimOptions, ids, ip, view};
use crate::{lease, registration};

pub struct SimNode {
    pub name: String,
    pub index: usize,
    pub ip: Ipv4Addr,
    pub ip_str: String,
    created: Instant,
    stopped: watch::Sender<bool>,
    /// `spec.podCIDR` as last seen.
    cidr: watch::Sender<Option<String>>,
    ips: Mutex<ip::Pool>,
    /// Conditions as last seen (for their lastTransitionTime).
    conditions: Mutex<Vec<NodeCondition>>,
    status_now: Notify,
    heartbeat: Mutex<Option<JoinHandle<()>>>,
}

impl SimNode {
    pub fn new(name: &str, index: usize) -> Self {
        Self {
            name: name.into(),
            index,
            ip: ip::node_ip(index),
            ip_str: ip::node_ip(index).to_string(),
            created: Instant::now(),
            stopped: watch::Sender::new(false),
            cidr: watch::Sender::new(None),
            ips: Mutex::default(),
            conditions: Mutex::default(),
            status_now: Notify::new(),
            heartbeat: Mutex::default(),
        }
    }

    pub fn is_stopped(&self) -> bool {
        *self.stopped.borrow()
    }

    /// Resolves when the node is stopped.
    pub async fn stopped(&self) {
        let mut rx = self.stopped.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    pub fn stop(&self) {
        self.stopped.send_replace(true);
        if let Some(h) = self.heartbeat.lock().expect("lock").take() {
            h.abort();
        }
    }

    pub fn set_heartbeat(&self, handle: JoinHandle<()>) {
        if self.is_stopped() {
            handle.abort();
        } else {
            *self.heartbeat.lock().expect("lock") = Some(handle);
        }
    }

    /// The node's pod CIDR: `spec.podCIDR`, waited for until `wait` after the node started,
    /// then the fallback range.
    pub async fn pod_cidr(&self, wait: Duration) -> String {
        let mut rx = self.cidr.subscribe();
        let found =
            tokio::time::timeout_at(self.created + wait, rx.wait_for(Option::is_some)).await;
        match found {
            Ok(Ok(cidr)) => cidr.clone().unwrap_or_default(),
            _ => ip::fallback_cidr(self.index),
        }
    }

    /// An address for pod `uid` from `cidr`.
    pub fn allocate(&self, uid: &str, cidr: &str) -> Option<Ipv4Addr> {
        let mut pool = self.ips.lock().expect("lock");
        pool.set_cidr(cidr);
        pool.allocate(uid)
    }

    pub fn reserve(&self, uid: &str, ip: Ipv4Addr) {
        self.ips.lock().expect("lock").reserve(uid, ip);
    }

    pub fn release(&self, uid: &str) {
        self.ips.lock().expect("lock").release(uid);
    }

    /// Takes in the Node as the API server has it.
    fn note(&self, node: &view::Node, from_watch: bool) {
        let cidr = node
            .spec
            .as_ref()
            .and_then(|s| s.pod_cidr.clone())
            .filter(|c| !c.is_empty());
        self.cidr.send_if_modified(|c| {
            let changed = *c != cidr && cidr.is_some();
            if changed {
                c.clone_from(&cidr);
            }
            changed
        });
        let conditions = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        let ready = conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        *self.conditions.lock().expect("lock") = conditions;
        if from_watch && !ready && !self.is_stopped() {
            // Someone else (the node lifecycle controller) changed Ready: report at once.
            self.status_now.notify_one();
        }
    }

    /// The kubelet's conditions, heartbeat now, transition times kept while unchanged.
    fn conditions(&self) -> Value {
        registration::conditions(&self.conditions.lock().expect("lock"))
    }
}

/// The Node a kubelet registers.
fn node_object(opts: &SimOptions, node: &SimNode) -> Value {
    let name = &node.name;
    let resources = json!({
        "cpu": opts.cpu, "memory": opts.memory, "pods": opts.pods.to_string(),
        "ephemeral-storage": "100Gi", "hugepages-1Gi": "0", "hugepages-2Mi": "0",
    });
    let mut metadata = registration::node_metadata(name);
    metadata["labels"]["node.kubernetes.io/instance-type"] = json!("sim");
    metadata["labels"]["type"] = json!("sim");
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": metadata,
        "spec": {},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "addresses": [
                {"type": "InternalIP", "address": node.ip.to_string()},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": &ids::hex64(&["machine", name])[..32],
                "systemUUID": ids::uuid(&["system", name]),
                "bootID": ids::uuid(&["boot", name, &jiff::Timestamp::now().to_string()]),
                "kernelVersion": "6.1.0-sim",
                "osImage": "krust sim node",
                "containerRuntimeVersion": "sim://1.0",
                "kubeletVersion": registration::KUBELET_VERSION,
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
            "conditions": node.conditions(),
        },
    })
}

/// Registers `node` (creating its Node, or taking an existing one over) and its Lease.
pub async fn register(shared: &Shared, node: &SimNode) -> anyhow::Result<lease::Heartbeat> {
    let api: Api<Node> = Api::all(shared.client.clone());
    let object = node_object(&shared.opts, node);
    let typed: Node = serde_json::from_value(object.clone())?;
    let mut delay = Duration::from_millis(100);
    let registered = loop {
        let attempt = {
            let _permit = shared.limit.acquire().await?;
            registration::take_over(&api, &typed, &object).await
        };
        match attempt {
            Ok(n) => break n,
            Err(e) if delay < Duration::from_secs(5) => {
                tracing::warn!(node = %node.name, error = %e, "registering; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => return Err(e.into()),
        }
    };
    let uid = registered.metadata.uid.clone().unwrap_or_default();
    node.note(&view::Node::from_typed(registered), false);
    let heartbeat = {
        let _permit = shared.limit.acquire().await?;
        lease::Heartbeat::start(shared.client.clone(), &node.name, &uid).await?
    };
    registration::events(&shared.events, &node.name);
    Ok(heartbeat)
}

/// Posts the node's conditions with a fresh heartbeat time.
async fn post_status(shared: &Shared, node: &SimNode) {
    let api: Api<view::Node> = Api::all(shared.client.clone());
    let patch = Patch::Strategic(json!({"status": {"conditions": node.conditions()}}));
    let Ok(_permit) = shared.limit.acquire().await else {
        return;
    };
    match api
        .patch_status(&node.name, &PatchParams::default(), &patch)
        .await
    {
        Ok(n) => node.note(&n, false),
        Err(e) => tracing::warn!(node = %node.name, error = %e, "posting node status"),
    }
}

/// Renews the node's Lease every `lease_interval` and posts its status every
/// `status_interval` or when asked to, the nodes' timers staggered over the intervals.
pub async fn heartbeats(shared: Arc<Shared>, node: Arc<SimNode>, mut lease: lease::Heartbeat) {
    let opts = &shared.opts;
    let share = (node.index + 1) as f64 / opts.count.max(1) as f64;
    let start = Instant::now();
    let mut lease_tick = tokio::time::interval_at(
        start + opts.lease_interval.mul_f64(share),
        opts.lease_interval,
    );
    let mut status_tick = tokio::time::interval_at(
        start + opts.status_interval.mul_f64(share),
        opts.status_interval,
    );
    lease_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    status_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // The requests are boxed: an idle task (thousands per process) holds no room for them.
    while !node.is_stopped() {
        tokio::select! {
            _ = lease_tick.tick() => {
                let Ok(_permit) = shared.limit.acquire().await else { return };
                Box::pin(lease.renew()).await;
            }
            _ = status_tick.tick() => Box::pin(post_status(&shared, &node)).await,
            _ = node.status_now.notified() => {
                Box::pin(post_status(&shared, &node)).await;
                status_tick.reset();
            }
        }
    }
}

/// Whether `node` is annotated `sim.krust.dev/stopped=true`.
fn stop_requested(node: &view::Node) -> bool {
    node.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(STOPPED_ANNOTATION))
        .is_some_and(|v| v == "true")
}

/// Watches the sim Nodes for their pod CIDRs, for Ready conditions changed by others, and
/// for the annotation that stops a node.
pub async fn watch(shared: Arc<Shared>) {
    let api: Api<view::Node> = Api::all(shared.client.clone());
    let config = watcher::Config::default().labels("type=sim");
    let mut stream = watcher(api, config).default_backoff().boxed();
    while let Some(event) = stream.next().await {
        match event {
            Ok(watcher::Event::Apply(n) | watcher::Event::InitApply(n)) => {
                if let Some(sim) = n
                    .metadata
                    .name
                    .as_ref()
                    .and_then(|name| shared.nodes.get(name))
                {
                    sim.note(&n, true);
                    if stop_requested(&n) && !sim.is_stopped() {
                        tracing::info!(node = %sim.name, "sim node stopped: annotated {STOPPED_ANNOTATION}=true");
                        sim.stop();
                    }
                }
            }
            Ok(watcher::Event::Delete(n)) => {
                tracing::warn!(node = ?n.metadata.name, "sim node deleted from the API");
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "watching sim nodes"),
        }
    }
}
