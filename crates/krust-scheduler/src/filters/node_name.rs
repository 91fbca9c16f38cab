//! NodeName: a pod that names its node fits only there.

use super::{Failure, Plugin};
use crate::cache::NodeInfo;
use crate::podinfo::PodInfo;

pub const REASON: &str = "node(s) didn't match the requested node name";

pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Option<Failure> {
    (!pod.node_name.is_empty() && pod.node_name != node.name)
        .then(|| Failure::unresolvable(Plugin::NodeName, REASON))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{info, pod};

    #[test]
    fn only_the_named_node_fits() {
        let node = NodeInfo {
            name: "n1".into(),
            ..Default::default()
        };
        let mut p = info(&pod("p", "", ""));
        assert!(filter(&p, &node).is_none());
        p.node_name = "n1".into();
        assert!(filter(&p, &node).is_none());
        p.node_name = "n2".into();
        assert_eq!(filter(&p, &node).unwrap().reasons, [REASON]);
    }
}
