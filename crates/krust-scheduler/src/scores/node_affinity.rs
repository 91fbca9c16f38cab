//! NodeAffinity score: the sum of the weights of the preferred terms a node matches.

use super::default_normalize;
use crate::cache::NodeInfo;
use crate::podinfo::PodInfo;

/// Returns false when the pod has no preferred node affinity.
pub fn score(pod: &PodInfo, nodes: &[NodeInfo], feasible: &[usize], out: &mut Vec<i64>) -> bool {
    if pod.preferred_node_affinity.is_empty() {
        return false;
    }
    out.clear();
    out.extend(feasible.iter().map(|i| {
        let n = &nodes[*i];
        let Some(data) = &n.node else { return 0 };
        pod.preferred_node_affinity
            .iter()
            .filter(|(_, t)| t.matches(&n.name, &data.labels))
            .map(|(w, _)| i64::from(*w))
            .sum()
    }));
    default_normalize(out, false);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::NodeData;
    use crate::testing::{info, labels, pod};
    use k8s_openapi::api::core::v1 as api;

    fn node(disk: &str) -> NodeInfo {
        NodeInfo {
            node: Some(NodeData {
                labels: labels(&[("disk", disk)]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn preferred(weight: i32, disk: &str) -> api::PreferredSchedulingTerm {
        api::PreferredSchedulingTerm {
            weight,
            preference: api::NodeSelectorTerm {
                match_expressions: Some(vec![api::NodeSelectorRequirement {
                    key: "disk".into(),
                    operator: "In".into(),
                    values: Some(vec![disk.into()]),
                }]),
                ..Default::default()
            },
        }
    }

    #[test]
    fn weights_of_matching_terms() {
        let mut p = pod("p", "", "");
        p.spec.as_mut().unwrap().affinity = Some(api::Affinity {
            node_affinity: Some(api::NodeAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(vec![
                    preferred(80, "ssd"),
                    preferred(20, "hdd"),
                ]),
                ..Default::default()
            }),
            ..Default::default()
        });
        let nodes = [node("ssd"), node("hdd"), node("tape")];
        let mut out = vec![];
        assert!(score(&info(&p), &nodes, &[0, 1, 2], &mut out));
        assert_eq!(out, [100, 25, 0]);
        assert!(!score(&info(&pod("q", "", "")), &nodes, &[0], &mut out));
    }
}
