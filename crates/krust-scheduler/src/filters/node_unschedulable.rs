//! NodeUnschedulable: cordoned nodes (`spec.unschedulable`) take only pods that tolerate the
//! `node.kubernetes.io/unschedulable:NoSchedule` taint.

use k8s_openapi::api::core::v1::Taint;

use super::taint_toleration::tolerated;
use super::{Failure, Plugin};
use crate::cache::NodeData;
use crate::podinfo::PodInfo;

pub const REASON: &str = "node(s) were unschedulable";
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

pub fn filter(pod: &PodInfo, node: &NodeData) -> Option<Failure> {
    if !node.unschedulable {
        return None;
    }
    let taint = Taint {
        key: TAINT_UNSCHEDULABLE.into(),
        effect: "NoSchedule".into(),
        ..Default::default()
    };
    (!tolerated(&pod.tolerations, &taint))
        .then(|| Failure::unresolvable(Plugin::NodeUnschedulable, REASON))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{info, pod};
    use k8s_openapi::api::core::v1::Toleration;

    #[test]
    fn cordoned_nodes_take_only_tolerating_pods() {
        let node = NodeData {
            unschedulable: true,
            ..Default::default()
        };
        let mut p = info(&pod("p", "", ""));
        assert_eq!(filter(&p, &node).unwrap().reasons, [REASON]);
        p.tolerations.push(Toleration {
            key: Some(TAINT_UNSCHEDULABLE.into()),
            operator: Some("Exists".into()),
            effect: Some("NoSchedule".into()),
            ..Default::default()
        });
        assert!(filter(&p, &node).is_none());
        assert!(filter(&info(&pod("q", "", "")), &NodeData::default()).is_none());
    }
}
