//! InterPodAffinity score: preferred affinity (+weight) and anti-affinity (−weight) of the
//! pod towards existing pods and of existing pods towards the pod (their required affinity
//! counts with weight 1), summed per topology domain, then scaled between the minimum and
//! the maximum.

use std::collections::HashMap;

use super::MAX_SCORE;
use crate::cache::Cache;
use crate::podinfo::{AffinityTerm, PodInfo};
use crate::selector::Labels;

const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

type Scores = HashMap<(String, String), i64>;

fn add(scores: &mut Scores, term: &AffinityTerm, weight: i64, node_labels: &Labels) {
    if let Some(v) = node_labels.get(&term.topology_key) {
        *scores
            .entry((term.topology_key.clone(), v.clone()))
            .or_default() += weight;
    }
}

/// Returns false when neither the pod nor any existing pod has pod affinity terms.
pub fn score(pod: &PodInfo, cache: &Cache, feasible: &[usize], out: &mut Vec<i64>) -> bool {
    let own = !pod.preferred_affinity.is_empty() || !pod.preferred_anti_affinity.is_empty();
    if !own && !cache.any_pod_with_affinity() {
        return false;
    }
    let ns = &cache.namespaces;
    let mut scores = Scores::new();
    for node in cache.nodes() {
        let Some(data) = &node.node else { continue };
        if data.labels.is_empty() || (!own && node.with_affinity == 0) {
            continue;
        }
        let labels = &data.labels;
        for existing in &node.pods {
            for (w, t) in &pod.preferred_affinity {
                if t.matches(existing, ns) {
                    add(&mut scores, t, i64::from(*w), labels);
                }
            }
            for (w, t) in &pod.preferred_anti_affinity {
                if t.matches(existing, ns) {
                    add(&mut scores, t, -i64::from(*w), labels);
                }
            }
            if !existing.has_affinity() {
                continue;
            }
            for t in &existing.required_affinity {
                if t.matches(pod, ns) {
                    add(&mut scores, t, HARD_POD_AFFINITY_WEIGHT, labels);
                }
            }
            for (w, t) in &existing.preferred_affinity {
                if t.matches(pod, ns) {
                    add(&mut scores, t, i64::from(*w), labels);
                }
            }
            for (w, t) in &existing.preferred_anti_affinity {
                if t.matches(pod, ns) {
                    add(&mut scores, t, -i64::from(*w), labels);
                }
            }
        }
    }
    if scores.is_empty() {
        return false;
    }
    let nodes = cache.nodes();
    out.clear();
    out.extend(feasible.iter().map(|i| {
        let Some(labels) = nodes[*i].labels() else {
            return 0;
        };
        scores
            .iter()
            .filter(|((k, v), _)| labels.get(k) == Some(v))
            .map(|(_, s)| *s)
            .sum()
    }));
    let min = out.iter().copied().min().unwrap_or(0);
    let max = out.iter().copied().max().unwrap_or(0);
    let diff = max - min;
    for s in out.iter_mut() {
        *s = if diff > 0 {
            (MAX_SCORE as f64 * ((*s - min) as f64 / diff as f64)) as i64
        } else {
            0
        };
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::NodeData;
    use crate::podinfo::LABEL_HOSTNAME;
    use crate::testing::{info, labels, node, pod};
    use crate::view::from_typed;
    use k8s_openapi::api::core::v1 as api;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use std::sync::Arc;

    fn weighted(weight: i32, app: &str) -> api::WeightedPodAffinityTerm {
        api::WeightedPodAffinityTerm {
            weight,
            pod_affinity_term: api::PodAffinityTerm {
                label_selector: Some(LabelSelector {
                    match_labels: Some(labels(&[("app", app)])),
                    ..Default::default()
                }),
                topology_key: LABEL_HOSTNAME.into(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn preferred_affinity_and_anti_affinity() {
        let mut cache = Cache::default();
        for name in ["n0", "n1", "n2"] {
            cache.set_node(name, NodeData::new(&from_typed(&node(name, "4", "8Gi"))));
        }
        for (name, app, node) in [("db", "db", "n0"), ("log", "log", "n1")] {
            let mut p = info(&pod(name, "", ""));
            p.labels = labels(&[("app", app)]);
            p.node_name = node.into();
            cache.add_pod(Arc::new(p));
        }
        let mut p = pod("p", "", "");
        p.spec.as_mut().unwrap().affinity = Some(api::Affinity {
            pod_affinity: Some(api::PodAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(vec![weighted(
                    10, "db",
                )]),
                ..Default::default()
            }),
            pod_anti_affinity: Some(api::PodAntiAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(vec![weighted(
                    10, "log",
                )]),
                ..Default::default()
            }),
            ..Default::default()
        });
        let mut out = vec![];
        assert!(score(&info(&p), &cache, &[0, 1, 2], &mut out));
        assert_eq!(out, [100, 0, 50]);
        assert!(!score(
            &info(&pod("q", "", "")),
            &cache,
            &[0, 1, 2],
            &mut out
        ));
    }
}
