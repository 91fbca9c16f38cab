//! NodeResourcesFit (LeastAllocated) and NodeResourcesBalancedAllocation scores, on CPU and
//! memory with equal weights.

use super::MAX_SCORE;
use crate::cache::NodeInfo;
use crate::podinfo::PodInfo;

fn least_requested(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_SCORE / capacity
}

/// LeastAllocated: the more CPU and memory left after the pod (with default requests for
/// containers that set none), the better.
pub fn least_allocated(pod: &PodInfo, nodes: &[NodeInfo], feasible: &[usize], out: &mut Vec<i64>) {
    out.clear();
    out.extend(feasible.iter().map(|i| {
        let n = &nodes[*i];
        let Some(data) = &n.node else { return 0 };
        let alloc = &data.allocatable.resources;
        let mut sum = 0;
        let mut weights = 0;
        for (req, cap) in [
            (n.non_zero_cpu + pod.requests.non_zero_cpu, alloc.milli_cpu),
            (
                n.non_zero_memory + pod.requests.non_zero_memory,
                alloc.memory,
            ),
        ] {
            if cap == 0 {
                continue;
            }
            sum += least_requested(req, cap);
            weights += 1;
        }
        if weights == 0 { 0 } else { sum / weights }
    }));
}

/// `balancedResourceScorer`: 100 × (1 − the standard deviation of the CPU and memory fractions).
fn balanced(fractions: &[f64]) -> i64 {
    let std = match fractions {
        [a, b] => ((a - b) / 2.0).abs(),
        _ => 0.0,
    };
    ((1.0 - std) * MAX_SCORE as f64) as i64
}

/// BalancedAllocation: prefers nodes whose CPU and memory would be used in equal proportions.
/// Skipped for pods that request nothing.
pub fn balanced_allocation(
    pod: &PodInfo,
    nodes: &[NodeInfo],
    feasible: &[usize],
    out: &mut Vec<i64>,
) -> bool {
    let req = &pod.requests.requests;
    if req.milli_cpu == 0 && req.memory == 0 {
        return false;
    }
    out.clear();
    out.extend(feasible.iter().map(|i| {
        let n = &nodes[*i];
        let Some(data) = &n.node else { return 0 };
        let alloc = &data.allocatable.resources;
        let mut fractions = [0.0; 2];
        let mut len = 0;
        for (used, cap) in [
            (n.requested.milli_cpu + req.milli_cpu, alloc.milli_cpu),
            (n.requested.memory + req.memory, alloc.memory),
        ] {
            if cap == 0 {
                continue;
            }
            fractions[len] = (used as f64 / cap as f64).min(1.0);
            len += 1;
        }
        balanced(&fractions[..len])
    }));
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{Cache, NodeData};
    use crate::testing::{info, node, pod};
    use crate::view::from_typed;
    use std::sync::Arc;

    fn cluster() -> Cache {
        let mut cache = Cache::default();
        for name in ["empty", "busy"] {
            cache.set_node(name, NodeData::new(&from_typed(&node(name, "4", "8Gi"))));
        }
        let mut p = info(&pod("a", "2", "1Gi"));
        p.node_name = "busy".into();
        cache.add_pod(Arc::new(p));
        cache
    }

    #[test]
    fn least_allocated_prefers_free_nodes() {
        let cache = cluster();
        let mut out = vec![];
        least_allocated(
            &info(&pod("p", "1", "2Gi")),
            cache.nodes(),
            &[0, 1],
            &mut out,
        );
        // empty: cpu (4-1)/4 = 75, memory (8-2)/8 = 75; busy: cpu 25, memory 62.
        assert_eq!(out, [75, 43]);
    }

    #[test]
    fn pods_without_requests_count_defaults() {
        let cache = cluster();
        let mut out = vec![];
        least_allocated(&info(&pod("p", "", "")), cache.nodes(), &[0], &mut out);
        // cpu (4000-100)/4000 = 97, memory (8192-200)/8192 = 97.
        assert_eq!(out, [97]);
        assert!(!balanced_allocation(
            &info(&pod("p", "", "")),
            cache.nodes(),
            &[0],
            &mut out
        ));
    }

    #[test]
    fn balanced_prefers_even_use() {
        let cache = cluster();
        let mut out = vec![];
        assert!(balanced_allocation(
            &info(&pod("p", "1", "4Gi")),
            cache.nodes(),
            &[0, 1],
            &mut out
        ));
        // empty: cpu 0.25, memory 0.5 → 87; busy: cpu 0.75, memory 0.625 → 93.
        assert_eq!(out, [87, 93]);
    }
}
