//! TaintToleration score: fewer untolerated `PreferNoSchedule` taints is better.

use super::default_normalize;
use crate::cache::NodeInfo;
use crate::filters::taint_toleration::tolerated;
use crate::podinfo::PodInfo;

/// Returns false (no effect on the ranking) when no feasible node has a `PreferNoSchedule` taint.
pub fn score(pod: &PodInfo, nodes: &[NodeInfo], feasible: &[usize], out: &mut Vec<i64>) -> bool {
    let soft = |n: &NodeInfo| {
        n.node
            .iter()
            .flat_map(|d| &d.taints)
            .filter(|t| t.effect == "PreferNoSchedule")
            .count()
            > 0
    };
    if !feasible.iter().any(|i| soft(&nodes[*i])) {
        return false;
    }
    let tolerations: Vec<_> = pod
        .tolerations
        .iter()
        .filter(|t| {
            matches!(
                t.effect.as_deref(),
                None | Some("") | Some("PreferNoSchedule")
            )
        })
        .cloned()
        .collect();
    out.clear();
    out.extend(feasible.iter().map(|i| {
        nodes[*i]
            .node
            .iter()
            .flat_map(|d| &d.taints)
            .filter(|t| t.effect == "PreferNoSchedule" && !tolerated(&tolerations, t))
            .count() as i64
    }));
    default_normalize(out, true);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::NodeData;
    use crate::testing::{info, pod};
    use k8s_openapi::api::core::v1::{Taint, Toleration};

    fn node(taints: &[&str]) -> NodeInfo {
        NodeInfo {
            node: Some(NodeData {
                taints: taints
                    .iter()
                    .map(|k| Taint {
                        key: k.to_string(),
                        effect: "PreferNoSchedule".into(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn prefers_fewer_untolerated_soft_taints() {
        let nodes = [node(&[]), node(&["a"]), node(&["a", "b"])];
        let mut out = vec![];
        let mut p = info(&pod("p", "", ""));
        assert!(score(&p, &nodes, &[0, 1, 2], &mut out));
        assert_eq!(out, [100, 50, 0]);
        p.tolerations.push(Toleration {
            key: Some("b".into()),
            operator: Some("Exists".into()),
            ..Default::default()
        });
        score(&p, &nodes, &[0, 1, 2], &mut out);
        assert_eq!(out, [100, 0, 0]);
        assert!(!score(&p, &nodes, &[0], &mut out));
    }
}
