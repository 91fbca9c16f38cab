//! PodTopologySpread (DoNotSchedule constraints): placing the pod in a domain must not make
//! that domain exceed the least populated one by more than `maxSkew` matching pods.

use std::collections::HashMap;

use super::taint_toleration::untolerated;
use super::{Failure, Plugin, node_affinity};
use crate::cache::{Cache, NodeData, NodeInfo};
use crate::podinfo::{PodInfo, SpreadConstraint};
use crate::selector::Selector;

pub const REASON: &str = "node(s) didn't match pod topology spread constraints";
pub const REASON_MISSING_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

/// Matching pods per domain of one constraint, and the minimum that skew is measured from.
pub struct ConstraintState {
    /// Index into `PodInfo::spread`.
    pub index: usize,
    pub counts: HashMap<String, i64>,
    pub min: i64,
}

pub struct FilterState {
    pub constraints: Vec<ConstraintState>,
}

/// `countPodsMatchSelector`: pods of the namespace, not being deleted, that the selector selects.
pub fn count_matching(node: &NodeInfo, selector: &Selector, namespace: &str) -> i64 {
    node.pods
        .iter()
        .filter(|p| !p.terminating && p.namespace == namespace && selector.matches(&p.labels))
        .count() as i64
}

/// `matchNodeInclusionPolicies`: whether the node counts for the constraint.
pub fn node_included(pod: &PodInfo, c: &SpreadConstraint, name: &str, data: &NodeData) -> bool {
    (!c.honor_affinity || node_affinity::matches(pod, name, &data.labels))
        && (!c.honor_taints || untolerated(&data.taints, &pod.tolerations).is_none())
}

pub fn prefilter(pod: &PodInfo, cache: &Cache) -> Option<FilterState> {
    let hard: Vec<usize> = (0..pod.spread.len())
        .filter(|i| pod.spread[*i].hard)
        .collect();
    if hard.is_empty() {
        return None;
    }
    let mut states: Vec<ConstraintState> = hard
        .iter()
        .map(|i| ConstraintState {
            index: *i,
            counts: HashMap::new(),
            min: 0,
        })
        .collect();
    for node in cache.nodes() {
        let Some(data) = &node.node else { continue };
        if !hard
            .iter()
            .all(|i| data.labels.contains_key(&pod.spread[*i].topology_key))
        {
            continue;
        }
        for st in &mut states {
            let c = &pod.spread[st.index];
            if !node_included(pod, c, &node.name, data) {
                continue;
            }
            let n = count_matching(node, &c.selector, &pod.namespace);
            *st.counts
                .entry(data.labels[&c.topology_key].clone())
                .or_default() += n;
        }
    }
    for st in &mut states {
        let c = &pod.spread[st.index];
        st.min = if (st.counts.len() as i64) < i64::from(c.min_domains) {
            0
        } else {
            st.counts.values().copied().min().unwrap_or(0)
        };
    }
    Some(FilterState {
        constraints: states,
    })
}

pub fn filter(pod: &PodInfo, state: &FilterState, node: &NodeData) -> Option<Failure> {
    for st in &state.constraints {
        let c = &pod.spread[st.index];
        let Some(value) = node.labels.get(&c.topology_key) else {
            return Some(Failure::unresolvable(
                Plugin::PodTopologySpread,
                REASON_MISSING_LABEL,
            ));
        };
        let self_match = i64::from(c.selector.matches(&pod.labels));
        let matching = st.counts.get(value).copied().unwrap_or(0);
        if matching + self_match - st.min > i64::from(c.max_skew) {
            return Some(Failure::resolvable(Plugin::PodTopologySpread, REASON));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::podinfo::LABEL_ZONE;
    use crate::testing::{info, labels, node, pod};
    use crate::view::from_typed;
    use k8s_openapi::api::core::v1 as api;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use std::sync::Arc;

    fn spread_pod(name: &str, when: &str, min_domains: Option<i32>) -> api::Pod {
        let mut p = pod(name, "", "");
        p.metadata.labels = Some(labels(&[("app", "web")]));
        p.spec.as_mut().unwrap().topology_spread_constraints =
            Some(vec![api::TopologySpreadConstraint {
                max_skew: 1,
                topology_key: LABEL_ZONE.into(),
                when_unsatisfiable: when.into(),
                label_selector: Some(LabelSelector {
                    match_labels: Some(labels(&[("app", "web")])),
                    ..Default::default()
                }),
                min_domains,
                ..Default::default()
            }]);
        p
    }

    /// Nodes n1 (zone a, 2 web pods), n2 (zone b, 1 web pod), n3 (no zone label).
    fn cluster() -> Cache {
        let mut cache = Cache::default();
        for (name, zone) in [("n1", "a"), ("n2", "b"), ("n3", "")] {
            let mut n = node(name, "4", "8Gi");
            if !zone.is_empty() {
                n.metadata
                    .labels
                    .as_mut()
                    .unwrap()
                    .insert(LABEL_ZONE.into(), zone.into());
            }
            cache.set_node(name, NodeData::new(&from_typed(&n)));
        }
        for (name, node) in [("a", "n1"), ("b", "n1"), ("c", "n2")] {
            let mut p = info(&spread_pod(name, "DoNotSchedule", None));
            p.node_name = node.into();
            cache.add_pod(Arc::new(p));
        }
        cache
    }

    fn run(cache: &Cache, p: &PodInfo, node: &str) -> Option<Failure> {
        let state = prefilter(p, cache).unwrap();
        let n = &cache.nodes()[cache.node_index(node).unwrap()];
        filter(p, &state, n.node.as_ref().unwrap())
    }

    #[test]
    fn skew_is_measured_from_the_least_populated_domain() {
        let cache = cluster();
        let p = info(&spread_pod("p", "DoNotSchedule", None));
        assert_eq!(run(&cache, &p, "n1").unwrap().reasons, [REASON]);
        assert!(run(&cache, &p, "n2").is_none());
        let f = run(&cache, &p, "n3").unwrap();
        assert_eq!(f.reasons, [REASON_MISSING_LABEL]);
        assert!(!f.resolvable);
    }

    #[test]
    fn min_domains_makes_the_minimum_zero() {
        let cache = cluster();
        let p = info(&spread_pod("p", "DoNotSchedule", Some(3)));
        // Two domains exist, three are wanted: the minimum is 0, so zone b (1 + 1) is too full.
        assert!(run(&cache, &p, "n2").is_some());
    }

    #[test]
    fn schedule_anyway_constraints_do_not_filter() {
        let p = info(&spread_pod("p", "ScheduleAnyway", None));
        assert!(prefilter(&p, &cluster()).is_none());
    }
}
