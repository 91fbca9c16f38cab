//! PodTopologySpread score: `ScheduleAnyway` constraints, or, for pods without constraints
//! that have a controlling owner, kube-scheduler's system default constraints (hostname with
//! maxSkew 3, zone with maxSkew 5) over the pods of the same owner: replicas spread over
//! nodes and zones.
//!
//! The default constraints count pods by owner from aggregates the cache keeps (per node and
//! per zone) instead of matching a selector against every pod of the cluster.

use std::collections::{HashMap, HashSet};

use super::MAX_SCORE;
use crate::cache::Cache;
use crate::filters::topology_spread::{count_matching, node_included};
use crate::podinfo::{LABEL_HOSTNAME, PodInfo, SpreadConstraint};

/// `topologyNormalizingWeight`.
fn normalizing_weight(domains: usize) -> f64 {
    ((domains + 2) as f64).ln()
}

fn score_for_count(count: i64, max_skew: i32, weight: f64) -> f64 {
    count as f64 * weight + f64::from(max_skew - 1)
}

/// `NormalizeScore`: fewer matching pods is better; ignored nodes (`None`) score 0.
fn normalize(raw: &[Option<i64>], out: &mut Vec<i64>) {
    let present = raw.iter().flatten();
    let min = present.clone().copied().min().unwrap_or(0);
    let max = present.copied().max().unwrap_or(0);
    out.clear();
    out.extend(raw.iter().map(|s| match s {
        None => 0,
        Some(_) if max == 0 => MAX_SCORE,
        Some(s) => MAX_SCORE * (max + min - s) / max,
    }));
}

/// Returns false when the pod has no constraint to score by.
pub fn score(pod: &PodInfo, cache: &Cache, feasible: &[usize], out: &mut Vec<i64>) -> bool {
    if pod.spread.is_empty() {
        return match &pod.owner {
            Some(uid) => {
                default_spread(cache, uid, feasible, out);
                true
            }
            None => false,
        };
    }
    let soft: Vec<&SpreadConstraint> = pod.spread.iter().filter(|c| !c.hard).collect();
    if soft.is_empty() {
        return false;
    }
    explicit(pod, cache, &soft, feasible, out);
    true
}

/// The system default constraints, counted by owner.
fn default_spread(cache: &Cache, uid: &str, feasible: &[usize], out: &mut Vec<i64>) {
    let nodes = cache.nodes();
    let host_weight = normalizing_weight(feasible.len());
    let zones = cache.owner_zones(uid);
    let zone_weight = if cache.has_zones() {
        let domains: HashSet<&str> = feasible.iter().filter_map(|i| nodes[*i].zone()).collect();
        normalizing_weight(domains.len())
    } else {
        0.0
    };
    let raw: Vec<Option<i64>> = feasible
        .iter()
        .map(|i| {
            let n = &nodes[*i];
            let mut s = score_for_count(i64::from(n.owner_count(uid)), 3, host_weight);
            if let Some(zone) = n.zone() {
                let count = zones.and_then(|z| z.get(zone)).copied().unwrap_or(0);
                s += score_for_count(i64::from(count), 5, zone_weight);
            }
            Some(s.round() as i64)
        })
        .collect();
    normalize(&raw, out);
}

/// Explicit `ScheduleAnyway` constraints: nodes without all topology keys are ignored.
fn explicit(
    pod: &PodInfo,
    cache: &Cache,
    soft: &[&SpreadConstraint],
    feasible: &[usize],
    out: &mut Vec<i64>,
) {
    let nodes = cache.nodes();
    let has_keys = |i: usize| {
        nodes[i]
            .labels()
            .is_some_and(|l| soft.iter().all(|c| l.contains_key(&c.topology_key)))
    };
    let scored: Vec<usize> = feasible.iter().copied().filter(|i| has_keys(*i)).collect();
    // Matching pods per domain, for the domains of the scored nodes (hostname: per node).
    let mut counts: Vec<HashMap<&str, i64>> = vec![HashMap::new(); soft.len()];
    for (c, map) in soft.iter().zip(counts.iter_mut()) {
        if c.topology_key == LABEL_HOSTNAME {
            continue;
        }
        for i in &scored {
            if let Some(v) = nodes[*i].labels().and_then(|l| l.get(&c.topology_key)) {
                map.insert(v.as_str(), 0);
            }
        }
    }
    let weights: Vec<f64> = soft
        .iter()
        .zip(&counts)
        .map(|(c, map)| {
            normalizing_weight(if c.topology_key == LABEL_HOSTNAME {
                scored.len()
            } else {
                map.len()
            })
        })
        .collect();
    if soft.iter().any(|c| c.topology_key != LABEL_HOSTNAME) {
        for n in nodes {
            let Some(data) = &n.node else { continue };
            if !soft
                .iter()
                .all(|c| data.labels.contains_key(&c.topology_key))
            {
                continue;
            }
            for (c, map) in soft.iter().zip(counts.iter_mut()) {
                if c.topology_key == LABEL_HOSTNAME || !node_included(pod, c, &n.name, data) {
                    continue;
                }
                if let Some(count) = map.get_mut(data.labels[&c.topology_key].as_str()) {
                    *count += count_matching(n, &c.selector, &pod.namespace);
                }
            }
        }
    }
    let raw: Vec<Option<i64>> = feasible
        .iter()
        .map(|i| {
            if !has_keys(*i) {
                return None;
            }
            let n = &nodes[*i];
            let labels = n.labels()?;
            let mut s = 0.0;
            for ((c, map), w) in soft.iter().zip(&counts).zip(&weights) {
                let count = if c.topology_key == LABEL_HOSTNAME {
                    count_matching(n, &c.selector, &pod.namespace)
                } else {
                    map.get(labels[&c.topology_key].as_str())
                        .copied()
                        .unwrap_or(0)
                };
                s += score_for_count(count, c.max_skew, *w);
            }
            Some(s.round() as i64)
        })
        .collect();
    normalize(&raw, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::NodeData;
    use crate::podinfo::LABEL_ZONE;
    use crate::testing::{info, labels, node, pod};
    use crate::view::from_typed;
    use k8s_openapi::api::core::v1 as api;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use std::sync::Arc;

    fn owned(name: &str, node: &str) -> PodInfo {
        let mut p = info(&pod(name, "", ""));
        p.owner = Some("rs1".into());
        p.labels = labels(&[("app", "web")]);
        p.node_name = node.into();
        p
    }

    fn cluster(zones: &[&str]) -> Cache {
        let mut cache = Cache::default();
        for (i, zone) in zones.iter().enumerate() {
            let name = format!("n{i}");
            let mut n = node(&name, "4", "8Gi");
            if !zone.is_empty() {
                n.metadata
                    .labels
                    .as_mut()
                    .unwrap()
                    .insert(LABEL_ZONE.into(), zone.to_string());
            }
            cache.set_node(&name, NodeData::new(&from_typed(&n)));
        }
        cache
    }

    #[test]
    fn replicas_of_an_owner_spread_over_nodes() {
        let mut cache = cluster(&["", "", ""]);
        cache.add_pod(Arc::new(owned("a", "n0")));
        cache.add_pod(Arc::new(owned("b", "n0")));
        cache.add_pod(Arc::new(owned("c", "n1")));
        let mut out = vec![];
        assert!(score(&owned("p", ""), &cache, &[0, 1, 2], &mut out));
        assert!(out[2] > out[1] && out[1] > out[0], "{out:?}");
        assert_eq!(out[2], MAX_SCORE);
        // Pods without an owner or constraints are not scored.
        assert!(!score(
            &info(&pod("q", "", "")),
            &cache,
            &[0, 1, 2],
            &mut out
        ));
    }

    #[test]
    fn default_spreading_counts_zones() {
        let mut cache = cluster(&["a", "a", "b"]);
        cache.add_pod(Arc::new(owned("x", "n0")));
        let mut out = vec![];
        score(&owned("p", ""), &cache, &[0, 1, 2], &mut out);
        // n1 is empty but in zone a with x; n2 is alone in zone b.
        assert!(out[2] > out[1] && out[1] > out[0], "{out:?}");
    }

    #[test]
    fn schedule_anyway_constraints() {
        let mut cache = cluster(&["a", "b", ""]);
        cache.add_pod(Arc::new(owned("x", "n0")));
        let mut p = pod("p", "", "");
        p.metadata.labels = Some(labels(&[("app", "web")]));
        p.spec.as_mut().unwrap().topology_spread_constraints =
            Some(vec![api::TopologySpreadConstraint {
                max_skew: 1,
                topology_key: LABEL_ZONE.into(),
                when_unsatisfiable: "ScheduleAnyway".into(),
                label_selector: Some(LabelSelector {
                    match_labels: Some(labels(&[("app", "web")])),
                    ..Default::default()
                }),
                ..Default::default()
            }]);
        let mut out = vec![];
        assert!(score(&info(&p), &cache, &[0, 1, 2], &mut out));
        // Zone b has no matching pod; n2 has no zone label and is ignored.
        assert_eq!(out[1], MAX_SCORE);
        assert!(out[0] < out[1]);
        assert_eq!(out[2], 0);
    }
}
