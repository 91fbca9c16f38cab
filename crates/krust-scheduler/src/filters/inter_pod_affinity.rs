//! InterPodAffinity (required terms): the pod's affinity terms must find matching pods in the
//! node's topology domain, its anti-affinity terms must find none, and no existing pod's
//! anti-affinity may reject it.

use std::collections::HashMap;

use super::{Failure, Plugin};
use crate::cache::{Cache, NodeData};
use crate::podinfo::{AffinityTerm, PodInfo};
use crate::selector::Labels;

pub const REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub const REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
pub const REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

type Pair = (String, String);

/// Matching pods per topology pair (`preFilterState`).
#[derive(Default)]
pub struct FilterState {
    /// Pairs where an existing pod's required anti-affinity selects the incoming pod.
    pub existing_anti: HashMap<Pair, i64>,
    /// Pairs with pods that all of the pod's required affinity terms select.
    pub affinity: HashMap<Pair, i64>,
    /// Pairs with pods one of the pod's required anti-affinity terms selects.
    pub anti: HashMap<Pair, i64>,
}

fn bump(map: &mut HashMap<Pair, i64>, term: &AffinityTerm, labels: &Labels) {
    if let Some(v) = labels.get(&term.topology_key) {
        *map.entry((term.topology_key.clone(), v.clone()))
            .or_default() += 1;
    }
}

/// `podMatchesAllAffinityTerms`.
pub fn matches_all(terms: &[AffinityTerm], pod: &PodInfo, ns: &HashMap<String, Labels>) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(pod, ns))
}

pub fn prefilter(pod: &PodInfo, cache: &Cache) -> Option<FilterState> {
    let own = !pod.required_affinity.is_empty() || !pod.required_anti_affinity.is_empty();
    let any_existing_anti = cache.any_pod_with_required_anti_affinity();
    if !own && !any_existing_anti {
        return None;
    }
    let ns = &cache.namespaces;
    let mut state = FilterState::default();
    for node in cache.nodes() {
        let Some(data) = &node.node else { continue };
        if node.with_required_anti_affinity > 0 {
            for existing in &node.pods {
                for term in &existing.required_anti_affinity {
                    if term.matches(pod, ns) {
                        bump(&mut state.existing_anti, term, &data.labels);
                    }
                }
            }
        }
        if !own {
            continue;
        }
        for existing in &node.pods {
            if matches_all(&pod.required_affinity, existing, ns) {
                for term in &pod.required_affinity {
                    bump(&mut state.affinity, term, &data.labels);
                }
            }
            for term in &pod.required_anti_affinity {
                if term.matches(existing, ns) {
                    bump(&mut state.anti, term, &data.labels);
                }
            }
        }
    }
    Some(state)
}

fn count(map: &HashMap<Pair, i64>, key: &str, value: &str) -> i64 {
    // Lookups by borrowed pair without allocating: the maps are small.
    map.iter()
        .find(|((k, v), _)| k == key && v == value)
        .map(|(_, n)| *n)
        .unwrap_or(0)
}

fn satisfies_affinity(pod: &PodInfo, state: &FilterState, cache: &Cache, labels: &Labels) -> bool {
    let mut pods_exist = true;
    for term in &pod.required_affinity {
        let Some(v) = labels.get(&term.topology_key) else {
            return false;
        };
        if count(&state.affinity, &term.topology_key, v) <= 0 {
            pods_exist = false;
        }
    }
    // The first pod of a group with affinity to itself may go anywhere with the topology.
    pods_exist
        || (state.affinity.is_empty()
            && matches_all(&pod.required_affinity, pod, &cache.namespaces))
}

pub fn filter(
    pod: &PodInfo,
    state: &FilterState,
    cache: &Cache,
    node: &NodeData,
) -> Option<Failure> {
    let labels = &node.labels;
    if !satisfies_affinity(pod, state, cache, labels) {
        return Some(Failure::unresolvable(
            Plugin::InterPodAffinity,
            REASON_AFFINITY,
        ));
    }
    let anti = pod.required_anti_affinity.iter().any(|t| {
        labels
            .get(&t.topology_key)
            .is_some_and(|v| count(&state.anti, &t.topology_key, v) > 0)
    });
    if anti {
        return Some(Failure::resolvable(
            Plugin::InterPodAffinity,
            REASON_ANTI_AFFINITY,
        ));
    }
    let existing = state
        .existing_anti
        .iter()
        .any(|((k, v), n)| *n > 0 && labels.get(k) == Some(v));
    existing.then(|| Failure::resolvable(Plugin::InterPodAffinity, REASON_EXISTING_ANTI_AFFINITY))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::podinfo::LABEL_HOSTNAME;
    use crate::testing::{info, labels, node, pod};
    use crate::view::from_typed;
    use k8s_openapi::api::core::v1 as api;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use std::sync::Arc;

    fn term(app: &str) -> api::PodAffinityTerm {
        api::PodAffinityTerm {
            label_selector: Some(LabelSelector {
                match_labels: Some(labels(&[("app", app)])),
                ..Default::default()
            }),
            topology_key: LABEL_HOSTNAME.into(),
            ..Default::default()
        }
    }

    fn with(app: &str, affinity: Option<&str>, anti: Option<&str>) -> api::Pod {
        let mut p = pod(
            &format!("{app}-{}", affinity.or(anti).unwrap_or("x")),
            "",
            "",
        );
        p.metadata.labels = Some(labels(&[("app", app)]));
        p.spec.as_mut().unwrap().affinity = Some(api::Affinity {
            pod_affinity: affinity.map(|a| api::PodAffinity {
                required_during_scheduling_ignored_during_execution: Some(vec![term(a)]),
                ..Default::default()
            }),
            pod_anti_affinity: anti.map(|a| api::PodAntiAffinity {
                required_during_scheduling_ignored_during_execution: Some(vec![term(a)]),
                ..Default::default()
            }),
            ..Default::default()
        });
        p
    }

    /// n1 runs a `db` pod, n2 runs a `cache` pod that repels `web` pods, n3 is empty.
    fn cluster() -> Cache {
        let mut cache = Cache::default();
        for name in ["n1", "n2", "n3"] {
            cache.set_node(name, NodeData::new(&from_typed(&node(name, "4", "8Gi"))));
        }
        let mut db = info(&pod("db", "", ""));
        db.labels = labels(&[("app", "db")]);
        db.node_name = "n1".into();
        cache.add_pod(Arc::new(db));
        let mut c = info(&with("cache", None, Some("web")));
        c.node_name = "n2".into();
        cache.add_pod(Arc::new(c));
        cache
    }

    fn run(cache: &Cache, p: &PodInfo, node: &str) -> Option<Failure> {
        let state = prefilter(p, cache).expect("state");
        let n = &cache.nodes()[cache.node_index(node).unwrap()];
        filter(p, &state, cache, n.node.as_ref().unwrap())
    }

    fn reason(f: Option<Failure>) -> String {
        f.map(|f| f.reasons[0].to_string()).unwrap_or_default()
    }

    #[test]
    fn affinity_needs_a_matching_pod_in_the_domain() {
        let cache = cluster();
        let p = info(&with("api", Some("db"), None));
        assert_eq!(reason(run(&cache, &p, "n1")), "");
        assert_eq!(reason(run(&cache, &p, "n3")), REASON_AFFINITY);
        // Nothing matches anywhere and the pod matches its own term: it may start the group.
        let first = info(&with("solo", Some("solo"), None));
        assert_eq!(reason(run(&cache, &first, "n3")), "");
    }

    #[test]
    fn anti_affinity_both_ways() {
        let cache = cluster();
        let p = info(&with("api", None, Some("db")));
        assert_eq!(reason(run(&cache, &p, "n1")), REASON_ANTI_AFFINITY);
        assert_eq!(reason(run(&cache, &p, "n3")), "");
        let web = info(&with("web", None, None));
        assert_eq!(
            reason(run(&cache, &web, "n2")),
            REASON_EXISTING_ANTI_AFFINITY
        );
        assert_eq!(reason(run(&cache, &web, "n1")), "");
    }
}
