//! Scheduling throughput without the API: 10,000 pods on 5,000 nodes through the cache and
//! the algorithm alone (filters, scores, assume). Run with
//! `cargo nextest run --release -p krust-scheduler --lib --run-ignored all throughput`.

use std::sync::Arc;
use std::time::Instant;

use crate::cache::{Cache, NodeData};
use crate::objects::{Node, Pod};
use crate::podinfo::PodInfo;
use crate::schedule::{Algorithm, Decision};
use serde_json::json;

fn node(i: usize) -> Node {
    serde_json::from_value(json!({
        "metadata": {"name": format!("sim-node-{i}"),
            "labels": {"kubernetes.io/hostname": format!("sim-node-{i}"), "type": "sim"}},
        "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"}},
    }))
    .unwrap()
}

fn pod(i: usize, owner: bool) -> PodInfo {
    let mut meta = json!({"name": format!("pod-{i}"), "namespace": "default", "uid": format!("u{i}"),
        "labels": {"app": "bench"}});
    if owner {
        meta["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "name": "rs", "uid": format!("rs-{}", i % 10), "controller": true}]);
    }
    let p: Pod = serde_json::from_value(json!({
        "metadata": meta,
        "spec": {"containers": [{"name": "c", "image": "pause",
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]},
    }))
    .unwrap();
    PodInfo::new(&p)
}

fn run(owner: bool) -> f64 {
    let mut cache = Cache::default();
    for i in 0..5000 {
        let n = node(i);
        cache.set_node(n.metadata.name.as_deref().unwrap(), NodeData::new(&n));
    }
    let pods: Vec<PodInfo> = (0..10_000).map(|i| pod(i, owner)).collect();
    let mut algo = Algorithm::default();
    let start = Instant::now();
    for p in pods {
        match algo.schedule(&p, &cache) {
            Decision::Bind(i) => {
                let name = cache.nodes()[i].name.clone();
                cache.assume(Arc::new(p), &name);
            }
            Decision::Unschedulable { message, .. } => panic!("{message}"),
        }
    }
    10_000.0 / start.elapsed().as_secs_f64()
}

#[test]
#[ignore = "a benchmark: run in release"]
fn schedules_ten_thousand_pods_on_five_thousand_nodes() {
    let plain = run(false);
    let owned = run(true);
    println!(
        "plain pods: {plain:.0} pods/s; pods with owners (default spreading): {owned:.0} pods/s"
    );
}
