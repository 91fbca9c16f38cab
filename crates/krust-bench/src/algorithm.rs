//! `krust-bench algorithm`: the scheduling algorithm alone, without the API: pods placed on
//! nodes through the scheduler's cache, filters, scores and assume, in one thread. What is
//! left of `krust-bench scheduler`'s time is the API, the store, the watches and the sim
//! nodes.

use std::time::Instant;

use anyhow::Result;
use krust_scheduler::offline;
use krust_scheduler::view::{Node, Pod};
use serde_json::json;

use crate::spec::Verdicts;

/// Options of `krust-bench algorithm`.
#[derive(Clone, Debug, clap::Args)]
pub struct AlgorithmArgs {
    /// Nodes in the cache.
    #[arg(long, default_value_t = 5000)]
    pub nodes: usize,
    /// Pods to place.
    #[arg(long, default_value_t = 10000)]
    pub pods: usize,
}

/// Places the pods twice, plain and with owners (default spreading counts pods by their
/// controlling owner), and prints pods/s; it checks no target of `SPECIFICATION.md`.
pub async fn run(args: AlgorithmArgs) -> Result<Verdicts> {
    anyhow::ensure!(args.pods > 0, "--pods must be positive");
    println!(
        "krust-bench algorithm: {} pods on {} nodes (32 cpu, 256Gi, 110 pods each) through the \
         scheduler's cache and algorithm alone, no API",
        args.pods, args.nodes
    );
    let plain = place(&args, false)?;
    let owned = place(&args, true)?;
    println!("plain pods: {plain:.0} pods/s");
    println!("pods with owners (ten ReplicaSets, default spreading): {owned:.0} pods/s");
    Ok(Verdicts::default())
}

/// Places every pod, assuming each on its node; pods per second.
fn place(args: &AlgorithmArgs, owner: bool) -> Result<f64> {
    let nodes: Vec<Node> = (0..args.nodes).map(node).collect();
    let pods: Vec<Pod> = (0..args.pods).map(|i| pod(i, owner)).collect();
    let pods = offline::prepare(&pods);
    let start = Instant::now();
    offline::place(&nodes, pods).map_err(|m| anyhow::anyhow!("a pod did not fit: {m}"))?;
    Ok(args.pods as f64 / start.elapsed().as_secs_f64())
}

fn node(i: usize) -> Node {
    serde_json::from_value(json!({
        "metadata": {"name": format!("sim-node-{i}"),
            "labels": {"kubernetes.io/hostname": format!("sim-node-{i}"), "type": "sim"}},
        "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"}},
    }))
    .expect("a node")
}

fn pod(i: usize, owner: bool) -> Pod {
    let mut meta = json!({"name": format!("pod-{i}"), "namespace": "default",
        "uid": format!("u{i}"), "labels": {"app": "bench"}});
    if owner {
        meta["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "name": "rs", "uid": format!("rs-{}", i % 10), "controller": true}]);
    }
    serde_json::from_value(json!({
        "metadata": meta,
        "spec": {"containers": [{"name": "c", "image": "pause",
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]},
    }))
    .expect("a pod")
}
