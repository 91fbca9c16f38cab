//! The scheduling algorithm alone, without the API: what kube-scheduler's `scheduler_perf`
//! integration benchmarks isolate. Pods are placed in order through the cache, the filter
//! and score plugins and assume, as the scheduling loop does between its watches and its
//! bindings. For benchmarks (`krust-bench algorithm`).

use crate::cache::{Cache, NodeData};
use crate::podinfo::PodInfo;
use crate::schedule::{Algorithm, Decision};
use crate::view::{Node, Pod};
use std::sync::Arc;

/// Pods made ready to place (their requests, affinities and owner read once), so that a
/// benchmark times the placing alone.
pub struct Prepared(Vec<PodInfo>);

/// Reads what the algorithm needs of each pod.
pub fn prepare(pods: &[Pod]) -> Prepared {
    Prepared(pods.iter().map(PodInfo::new).collect())
}

/// Places the prepared pods on `nodes`, each assumed on its node before the next is placed.
/// Fails with the scheduler's message at the first pod that fits nowhere.
pub fn place(nodes: &[Node], pods: Prepared) -> Result<(), String> {
    let mut cache = Cache::default();
    for n in nodes {
        cache.set_node(
            n.metadata.name.as_deref().unwrap_or_default(),
            NodeData::new(n),
        );
    }
    let mut algo = Algorithm::default();
    for p in pods.0 {
        match algo.schedule(&p, &cache) {
            Decision::Bind(i) => {
                let name = cache.nodes()[i].name.clone();
                cache.assume(Arc::new(p), &name);
            }
            Decision::Unschedulable { message, .. } => return Err(message),
        }
    }
    Ok(())
}
