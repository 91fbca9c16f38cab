//! Simulated nodes (the `sim` runtime, like kwok): kubelets whose containers are only data.
//!
//! [`SimNodes::start`] registers `count` Nodes named `<prefix>-0`, `<prefix>-1`, … and keeps
//! them alive as a kubelet does, only through the API (a kube-rs client):
//!
//! - **Registration** (`node.rs`): a Node with the kubelet's labels, capacity and allocatable,
//!   addresses (InternalIP from 127.31.0.0/16: loopback, so nothing sent to a sim node leaves
//!   this host), nodeInfo, conditions
//!   (Ready `KubeletReady`, no pressure) and daemon endpoints. An existing Node of that name is
//!   taken over. The Node's status is posted again every `status_interval` (the kubelet's
//!   nodeStatusReportFrequency) and at once when someone else changed its Ready condition.
//! - **Heartbeats** (`lease.rs`): a `coordination.k8s.io/v1` Lease per node in `kube-node-lease`,
//!   renewed every `lease_interval`, the nodes' renewals staggered over the interval.
//! - **Pods** (`pods.rs`; statuses in `pod_status.rs`): one watcher for the whole process
//!   (pods with `spec.nodeName` set, filtered locally) feeds one worker task per pod of a sim
//!   node. A new pod goes straight to Running through `pods/status`: IP from the node's
//!   `spec.podCIDR` (`ip.rs`; waited for up to `pod_cidr_wait`, then a fallback range, routed
//!   `unreachable` on this host first: `routes.rs`),
//!   conditions, container statuses, kubelet Events (Pulled, Created, Started). Containers
//!   with a readiness probe become ready after its `initialDelaySeconds`. When the pod gets a
//!   `deletionTimestamp`, its containers stop at once (or after `min(N, grace period)` seconds
//!   with the annotation `sim.krust.dev/termination-seconds: "N"`), the status shows them
//!   terminated (phase Succeeded, exit code 0), and the worker deletes the pod with
//!   `gracePeriodSeconds=0` and a uid precondition.
//! - [`SimNodes::stop`] is a node failure: that node's lease renewals, status updates and pod
//!   updates cease; its pods stay as they are. Annotating its Node
//!   `sim.krust.dev/stopped=true` ([`STOPPED_ANNOTATION`]) does the same, so tests and people
//!   can fail a node with kubectl: `kubectl annotate node sim-node-1 sim.krust.dev/stopped=true`
//!   (the Node watch in `node.rs` sees it).
//!
//! Every API request of the heartbeats and pod workers waits for one of `concurrency` permits;
//! Events (`events.rs`) have as many permits of their own, wait in a bounded queue, and never
//! delay a pod's status.
//! Container and image ids and image names are made up in `ids.rs`. Pods and Nodes are read
//! through lean views (`view.rs`) that decode only the fields a kubelet uses.

mod ids;
mod ip;
mod node;
mod pod_status;
mod pods;
mod routes;
mod view;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures::{StreamExt, TryStreamExt};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use node::SimNode;

/// The annotation that makes a sim pod's containers take N seconds to stop (bounded by the
/// pod's grace period), to exercise graceful deletion.
pub const TERMINATION_SECONDS_ANNOTATION: &str = "sim.krust.dev/termination-seconds";

/// The annotation that stops a sim node (as [`SimNodes::stop`] does) when its value is
/// `true`.
pub const STOPPED_ANNOTATION: &str = "sim.krust.dev/stopped";

/// What the sim nodes look like and how often they report.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// How many nodes.
    pub count: usize,
    /// Node names are `<prefix>-<i>`.
    pub prefix: String,
    /// Capacity (and allocatable): CPU, memory as Kubernetes quantities; pod count.
    pub cpu: String,
    pub memory: String,
    pub pods: u32,
    /// How often each node renews its Lease (the kubelet: 10 s).
    pub lease_interval: Duration,
    /// How often each node posts its status when nothing changed (the kubelet's
    /// nodeStatusReportFrequency; here 60 s).
    pub status_interval: Duration,
    /// How long after registration a pod waits for the node's `spec.podCIDR` before the node
    /// falls back to `10.42.<index mod 256>.0/24`.
    pub pod_cidr_wait: Duration,
    /// Post kubelet Events (node Starting/NodeReady…, pod Pulled/Created/Started).
    pub events: bool,
    /// API requests in flight at most (heartbeats and pod updates; Events have their own).
    pub concurrency: usize,
}

impl SimOptions {
    /// The lease renewal interval for a node monitor grace period (the node lifecycle
    /// controller's `--node-monitor-grace-period`): four renewals per period, as the
    /// kubelet's 10 s interval is for Kubernetes' 40 s.
    pub fn lease_interval_for(grace_period: Duration) -> Duration {
        grace_period / 4
    }
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            count: 1,
            prefix: "sim-node".into(),
            cpu: "4".into(),
            memory: "16Gi".into(),
            pods: 110,
            lease_interval: Duration::from_secs(10),
            status_interval: Duration::from_secs(60),
            pod_cidr_wait: Duration::from_secs(10),
            events: true,
            concurrency: 64,
        }
    }
}

/// What every task of one [`SimNodes`] shares.
struct Shared {
    client: kube::Client,
    opts: SimOptions,
    nodes: HashMap<String, Arc<SimNode>>,
    /// Permits for API requests of heartbeats and pod workers.
    limit: Semaphore,
    events: crate::events::Recorder,
    /// The pod CIDRs routed locally while the nodes run.
    routes: routes::Routes,
}

/// A set of running sim nodes. Dropping it without [`SimNodes::shutdown`] leaves its tasks
/// running.
pub struct SimNodes {
    shared: Arc<Shared>,
    names: Vec<String>,
    tasks: Vec<JoinHandle<()>>,
}

impl SimNodes {
    /// Registers the nodes (and their Leases) and starts their heartbeats and pod workers.
    /// Returns once every Node exists.
    pub async fn start(client: kube::Client, opts: SimOptions) -> anyhow::Result<SimNodes> {
        let names: Vec<String> = (0..opts.count)
            .map(|i| format!("{}-{i}", opts.prefix))
            .collect();
        let nodes = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), Arc::new(SimNode::new(n, i))))
            .collect();
        let events = crate::events::Recorder::new(client.clone(), opts.events, opts.concurrency);
        let shared = Arc::new(Shared {
            client,
            limit: Semaphore::new(opts.concurrency.max(1)),
            opts,
            nodes,
            events,
            routes: routes::Routes::default(),
        });
        let leases: Vec<_> = futures::stream::iter(names.iter().map(|n| shared.nodes[n].clone()))
            .map(|n| {
                let shared = shared.clone();
                async move { node::register(&shared, &n).await.map(|lease| (n, lease)) }
            })
            .buffer_unordered(shared.opts.concurrency.max(1))
            .try_collect()
            .await
            .context("registering sim nodes")?;
        let tasks = vec![
            tokio::spawn(node::watch(shared.clone())),
            tokio::spawn(pods::watch(shared.clone())),
        ];
        for (n, lease) in leases {
            let handle = tokio::spawn(node::heartbeats(shared.clone(), n.clone(), lease));
            n.set_heartbeat(handle);
        }
        tracing::info!(count = names.len(), prefix = %shared.opts.prefix, "sim nodes registered");
        Ok(SimNodes {
            shared,
            names,
            tasks,
        })
    }

    /// The node names, in index order.
    pub fn names(&self) -> Vec<String> {
        self.names.clone()
    }

    /// A node failure: that node's lease renewals, status updates and pod updates cease. Its
    /// pods are left as they are.
    pub async fn stop(&self, name: &str) -> anyhow::Result<()> {
        let node = self
            .shared
            .nodes
            .get(name)
            .with_context(|| format!("no sim node {name}"))?;
        node.stop();
        tracing::info!(node = name, "sim node stopped");
        Ok(())
    }

    /// Stops every node and the watchers.
    pub async fn shutdown(self) {
        for node in self.shared.nodes.values() {
            node.stop();
        }
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
