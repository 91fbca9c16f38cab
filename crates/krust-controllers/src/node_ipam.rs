//! Node IPAM (Kubernetes' range allocator): every Node gets `spec.podCIDR` and
//! `spec.podCIDRs`, a /24 of the cluster CIDR 10.42.0.0/16 that no other node has, the
//! lowest free one first (so CIDRs freed by deleted nodes are reused). CIDRs nodes already
//! have are respected (and marked used) once the first list of nodes is in.

use crate::informer::{Outcome, WorkQueue, for_each_change, reflect, synced};
use k8s_openapi::api::core::v1::Node;
use krust_api::cidr::Cidr;
use krust_component::events::{Recorder, versioned_reference};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::json;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const COMPONENT: &str = "node-ipam-controller";
/// When every CIDR is taken, look again this much later.
const FULL_RETRY: Duration = Duration::from_secs(30);

/// Which CIDRs to hand out.
#[derive(Clone, Debug)]
pub struct Options {
    /// The cluster's pod network (`--cluster-cidr`).
    pub cluster_cidr: Cidr,
    /// The prefix length of each node's share (`--node-cidr-mask-size`).
    pub node_prefix: u8,
}

impl Default for Options {
    /// 10.42.0.0/16, a /24 per node.
    fn default() -> Self {
        Self {
            cluster_cidr: Cidr::new(Ipv4Addr::new(10, 42, 0, 0), 16).expect("a /16"),
            node_prefix: 24,
        }
    }
}

/// The CIDRs in use, by index within the cluster CIDR.
#[derive(Debug)]
pub struct Allocator {
    cluster: Cidr,
    count: u64,
    node_prefix: u8,
    used: HashMap<u32, String>,
    by_node: HashMap<String, u32>,
}

impl Allocator {
    pub fn new(opts: &Options) -> anyhow::Result<Self> {
        let cluster = opts.cluster_cidr;
        anyhow::ensure!(
            cluster.prefix() <= opts.node_prefix && opts.node_prefix <= 32,
            "node CIDR /{} does not fit in cluster CIDR {cluster}",
            opts.node_prefix,
        );
        Ok(Self {
            cluster,
            count: 1 << (opts.node_prefix - cluster.prefix()),
            node_prefix: opts.node_prefix,
            used: HashMap::new(),
            by_node: HashMap::new(),
        })
    }

    /// The number of addresses in one node's CIDR.
    fn size(&self) -> u64 {
        1 << (32 - u32::from(self.node_prefix))
    }

    /// The text of CIDR `index`.
    pub fn cidr(&self, index: u32) -> String {
        let first = self.cluster.nth((u64::from(index) * self.size()) as u32);
        Cidr::new(first, self.node_prefix)
            .expect("a prefix of 32 or less")
            .to_string()
    }

    /// The index of a CIDR of ours (`None` if outside the range or of another size).
    pub fn index(&self, cidr: &str) -> Option<u32> {
        let cidr: Cidr = cidr.parse().ok()?;
        if cidr.prefix() != self.node_prefix || !self.cluster.contains(cidr.network()) {
            return None;
        }
        let offset = u64::from(u32::from(cidr.network()) - u32::from(self.cluster.network()));
        u32::try_from(offset / self.size()).ok()
    }

    /// Records that `node` has `cidr`.
    pub fn observe(&mut self, node: &str, cidr: &str) {
        let Some(index) = self.index(cidr) else {
            return;
        };
        if let Some(other) = self.used.get(&index)
            && other != node
        {
            tracing::warn!(node, other = %other, cidr, "two nodes have the same pod CIDR");
            return;
        }
        if let Some(old) = self.by_node.insert(node.to_string(), index)
            && old != index
        {
            self.used.remove(&old);
        }
        self.used.insert(index, node.to_string());
    }

    /// The CIDR held for `node`, else the lowest free one (now held for it).
    pub fn allocate(&mut self, node: &str) -> Option<u32> {
        if let Some(i) = self.by_node.get(node) {
            return Some(*i);
        }
        let count = u32::try_from(self.count).unwrap_or(u32::MAX);
        let index = (0..count).find(|i| !self.used.contains_key(i))?;
        self.used.insert(index, node.to_string());
        self.by_node.insert(node.to_string(), index);
        Some(index)
    }

    /// Frees what `node` held.
    pub fn release(&mut self, node: &str) {
        if let Some(i) = self.by_node.remove(node) {
            self.used.remove(&i);
        }
    }

    /// Forgets nodes for which `keep` is false.
    fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        let gone: Vec<String> = self.by_node.keys().filter(|n| !keep(n)).cloned().collect();
        for n in gone {
            self.release(&n);
        }
    }
}

fn pod_cidr(node: &Node) -> Option<&str> {
    node.spec
        .as_ref()?
        .pod_cidr
        .as_deref()
        .filter(|c| !c.is_empty())
}

struct Ctx {
    client: Client,
    recorder: Recorder,
    nodes: Store<Node>,
    allocator: Mutex<Allocator>,
}

/// Runs this controller with the default options until it fails.
pub async fn run(client: Client) -> anyhow::Result<()> {
    run_with(client, Options::default()).await
}

/// Runs this controller until it fails.
pub async fn run_with(client: Client, opts: Options) -> anyhow::Result<()> {
    let (nodes, events) = reflect(Api::<Node>::all(client.clone()), watcher::Config::default());
    let ctx = Arc::new(Ctx {
        recorder: Recorder::direct(client.clone(), COMPONENT),
        client,
        nodes,
        allocator: Mutex::new(Allocator::new(&opts)?),
    });
    let queue = WorkQueue::<String>::new();
    let changes = for_each_change(
        events,
        |node: &Node, gone| {
            let name = node.name_any();
            let mut allocator = ctx.allocator.lock().expect("allocator lock");
            if gone {
                allocator.release(&name);
            } else if let Some(cidr) = pod_cidr(node) {
                allocator.observe(&name, cidr);
            } else {
                queue.add(name);
            }
        },
        // After a (re)list, the store is the truth about which nodes exist.
        |done| {
            if done {
                let nodes = &ctx.nodes;
                let mut allocator = ctx.allocator.lock().expect("allocator lock");
                allocator.retain(|n| nodes.get(&ObjectRef::new(n)).is_some());
                for node in nodes.state() {
                    if let Some(cidr) = pod_cidr(&node) {
                        allocator.observe(&node.name_any(), cidr);
                    }
                }
            }
        },
    );
    let workers = {
        let (ctx, queue) = (ctx.clone(), queue.clone());
        async move {
            // Every CIDR already given out must be known before handing out more.
            synced(&[&ctx.nodes]).await;
            // One worker: allocations are serial.
            queue
                .run(1, |name| {
                    let ctx = ctx.clone();
                    async move { ctx.sync(&name).await }
                })
                .await
        }
    };
    tokio::join!(changes, workers);
    anyhow::bail!("the node IPAM controller's watch ended")
}

impl Ctx {
    async fn sync(&self, name: &str) -> Outcome {
        let Some(node) = self.nodes.get(&ObjectRef::new(name)) else {
            return Ok(None);
        };
        if pod_cidr(&node).is_some() {
            return Ok(None);
        }
        let allocated = {
            let mut allocator = self.allocator.lock().expect("allocator lock");
            allocator.allocate(name).map(|i| allocator.cidr(i))
        };
        let Some(cidr) = allocated else {
            let message = format!("Node {name} status is now: CIDRNotAvailable");
            self.recorder
                .normal(
                    &versioned_reference(node.as_ref()),
                    "CIDRNotAvailable",
                    &message,
                )
                .await;
            return Ok(Some(FULL_RETRY));
        };
        let api: Api<Node> = Api::all(self.client.clone());
        let patch = json!({"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}});
        match api
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {
                tracing::debug!(node = name, cidr, "pod CIDR assigned");
                Ok(None)
            }
            Err(kube::Error::Api(e)) if e.code == 404 => {
                self.allocator.lock().expect("allocator lock").release(name);
                Ok(None)
            }
            Err(e) => {
                let message = format!("Node {name} status is now: CIDRAssignmentFailed");
                self.recorder
                    .warning(
                        &versioned_reference(node.as_ref()),
                        "CIDRAssignmentFailed",
                        &message,
                    )
                    .await;
                Err(e.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_free_first_and_reuse() {
        let mut a = Allocator::new(&Options::default()).unwrap();
        a.observe("old", "10.42.1.0/24");
        assert_eq!(a.allocate("n0").map(|i| a.cidr(i)).unwrap(), "10.42.0.0/24");
        assert_eq!(a.allocate("n2").map(|i| a.cidr(i)).unwrap(), "10.42.2.0/24");
        assert_eq!(a.allocate("n2"), Some(2), "stable for a node");
        a.release("old");
        assert_eq!(a.allocate("n3").map(|i| a.cidr(i)).unwrap(), "10.42.1.0/24");
        assert_eq!(a.index("10.42.255.0/24"), Some(255));
        assert_eq!(a.index("10.43.0.0/24"), None);
        assert_eq!(a.index("10.42.0.0/25"), None);
        // As Kubernetes' range allocator does, a CIDR with host bits counts as its network.
        assert_eq!(a.index("10.42.7.9/24"), Some(7));
    }

    #[test]
    fn runs_out() {
        let opts = Options {
            cluster_cidr: "10.42.0.0/23".parse().unwrap(),
            node_prefix: 24,
        };
        let mut a = Allocator::new(&opts).unwrap();
        assert!(a.allocate("a").is_some());
        assert!(a.allocate("b").is_some());
        assert!(a.allocate("c").is_none());
    }
}
