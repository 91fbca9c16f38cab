//! Score plugins: how good each feasible node is for the pod, each normalized to 0–100 and
//! weighted as in kube-scheduler's default profile.

pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod resources;
pub mod taint_toleration;
pub mod topology_spread;

use crate::cache::Cache;
use crate::podinfo::PodInfo;

pub const MAX_SCORE: i64 = 100;

pub const WEIGHT_TAINT_TOLERATION: i64 = 3;
pub const WEIGHT_NODE_AFFINITY: i64 = 2;
pub const WEIGHT_RESOURCES_FIT: i64 = 1;
pub const WEIGHT_BALANCED_ALLOCATION: i64 = 1;
pub const WEIGHT_TOPOLOGY_SPREAD: i64 = 2;
pub const WEIGHT_INTER_POD_AFFINITY: i64 = 2;

/// `DefaultNormalizeScore`: scales to 0–100 by the highest score (reversed: lower is better).
pub fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.fill(MAX_SCORE);
        }
        return;
    }
    for s in scores.iter_mut() {
        *s = MAX_SCORE * *s / max;
        if reverse {
            *s = MAX_SCORE - *s;
        }
    }
}

/// Scores the feasible nodes (indices into the cache) into `totals`; `buf` is scratch space.
pub fn score(
    pod: &PodInfo,
    cache: &Cache,
    feasible: &[usize],
    totals: &mut Vec<i64>,
    buf: &mut Vec<i64>,
) {
    totals.clear();
    totals.resize(feasible.len(), 0);
    let mut add = |buf: &mut Vec<i64>, weight: i64| {
        for (t, s) in totals.iter_mut().zip(buf.iter()) {
            *t += s * weight;
        }
    };
    let nodes = cache.nodes();
    if taint_toleration::score(pod, nodes, feasible, buf) {
        add(buf, WEIGHT_TAINT_TOLERATION);
    }
    if node_affinity::score(pod, nodes, feasible, buf) {
        add(buf, WEIGHT_NODE_AFFINITY);
    }
    resources::least_allocated(pod, nodes, feasible, buf);
    add(buf, WEIGHT_RESOURCES_FIT);
    if resources::balanced_allocation(pod, nodes, feasible, buf) {
        add(buf, WEIGHT_BALANCED_ALLOCATION);
    }
    if topology_spread::score(pod, cache, feasible, buf) {
        add(buf, WEIGHT_TOPOLOGY_SPREAD);
    }
    if inter_pod_affinity::score(pod, cache, feasible, buf) {
        add(buf, WEIGHT_INTER_POD_AFFINITY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_by_the_maximum() {
        let mut s = vec![0, 5, 10];
        default_normalize(&mut s, false);
        assert_eq!(s, [0, 50, 100]);
        let mut s = vec![0, 5, 10];
        default_normalize(&mut s, true);
        assert_eq!(s, [100, 50, 0]);
        let mut s = vec![0, 0];
        default_normalize(&mut s, true);
        assert_eq!(s, [100, 100]);
    }
}
