//! NodeAffinity: `spec.nodeSelector` and the required node affinity must match the node.

use super::{Failure, Plugin};
use crate::cache::NodeData;
use crate::podinfo::PodInfo;
use crate::selector::Labels;

pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";

/// `GetRequiredNodeAffinity(pod).Match(node)`.
pub fn matches(pod: &PodInfo, node_name: &str, labels: &Labels) -> bool {
    pod.node_selector
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
        && pod
            .required_node_affinity
            .as_ref()
            .is_none_or(|s| s.matches(node_name, labels))
}

pub fn filter(pod: &PodInfo, node_name: &str, node: &NodeData) -> Option<Failure> {
    (!matches(pod, node_name, &node.labels))
        .then(|| Failure::unresolvable(Plugin::NodeAffinity, REASON))
}

/// The only nodes the pod may go to, when its required affinity names them
/// (`matchFields metadata.name In` in every term, as DaemonSet pods do).
pub fn named_nodes(pod: &PodInfo) -> Option<Vec<&str>> {
    let terms = &pod.required_node_affinity.as_ref()?.terms;
    if terms.is_empty() {
        return None;
    }
    terms.iter().map(|t| t.node_names()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{info, labels, pod};
    use k8s_openapi::api::core::v1 as api;

    fn with_affinity(terms: Vec<api::NodeSelectorTerm>) -> PodInfo {
        let mut p = pod("p", "", "");
        p.spec.as_mut().unwrap().affinity = Some(api::Affinity {
            node_affinity: Some(api::NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(api::NodeSelector {
                    node_selector_terms: terms,
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        info(&p)
    }

    fn req(key: &str, op: &str, values: &[&str]) -> api::NodeSelectorRequirement {
        api::NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn node_selector_must_match() {
        let node = NodeData {
            labels: labels(&[("disk", "ssd")]),
            ..Default::default()
        };
        let mut p = info(&pod("p", "", ""));
        assert!(filter(&p, "n", &node).is_none());
        p.node_selector = labels(&[("disk", "ssd")]);
        assert!(filter(&p, "n", &node).is_none());
        p.node_selector = labels(&[("disk", "hdd")]);
        let f = filter(&p, "n", &node).unwrap();
        assert_eq!(f.reasons, [REASON]);
        assert!(!f.resolvable);
    }

    #[test]
    fn required_affinity_terms_are_ored() {
        let node = NodeData {
            labels: labels(&[("zone", "b")]),
            ..Default::default()
        };
        let p = with_affinity(vec![
            api::NodeSelectorTerm {
                match_expressions: Some(vec![req("zone", "In", &["a"])]),
                ..Default::default()
            },
            api::NodeSelectorTerm {
                match_expressions: Some(vec![req("zone", "In", &["b"])]),
                ..Default::default()
            },
        ]);
        assert!(filter(&p, "n", &node).is_none());
        let p = with_affinity(vec![api::NodeSelectorTerm {
            match_expressions: Some(vec![req("zone", "NotIn", &["b"])]),
            ..Default::default()
        }]);
        assert!(filter(&p, "n", &node).is_some());
    }

    #[test]
    fn match_fields_name_the_nodes() {
        let p = with_affinity(vec![api::NodeSelectorTerm {
            match_fields: Some(vec![req("metadata.name", "In", &["n1"])]),
            ..Default::default()
        }]);
        assert_eq!(named_nodes(&p), Some(vec!["n1"]));
        assert!(filter(&p, "n1", &NodeData::default()).is_none());
        assert!(filter(&p, "n2", &NodeData::default()).is_some());
        assert_eq!(named_nodes(&info(&pod("q", "", ""))), None);
    }
}
