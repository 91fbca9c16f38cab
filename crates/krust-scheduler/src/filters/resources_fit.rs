//! NodeResourcesFit: the pod's requests must fit in what the node's pods leave of its
//! allocatable resources, and the node must have room for one more pod.

use std::borrow::Cow;

use super::{Failure, Plugin};
use crate::cache::{NodeData, NodeInfo};
use crate::podinfo::PodInfo;
use crate::requests::{Allocatable, Resources};

/// `fitsRequest`: the reasons the request does not fit, empty if it does.
pub fn insufficient(
    request: &Resources,
    requested: &Resources,
    pods_on_node: usize,
    allocatable: &Allocatable,
) -> Vec<Cow<'static, str>> {
    let mut reasons = Vec::new();
    if pods_on_node as i64 + 1 > allocatable.pods {
        reasons.push(Cow::Borrowed("Too many pods"));
    }
    let alloc = &allocatable.resources;
    if request.milli_cpu > 0 && request.milli_cpu > alloc.milli_cpu - requested.milli_cpu {
        reasons.push(Cow::Borrowed("Insufficient cpu"));
    }
    if request.memory > 0 && request.memory > alloc.memory - requested.memory {
        reasons.push(Cow::Borrowed("Insufficient memory"));
    }
    if request.ephemeral_storage > 0
        && request.ephemeral_storage > alloc.ephemeral_storage - requested.ephemeral_storage
    {
        reasons.push(Cow::Borrowed("Insufficient ephemeral-storage"));
    }
    for (name, want) in &request.scalar {
        if *want > 0 && *want > alloc.scalar(name) - requested.scalar(name) {
            reasons.push(Cow::Owned(format!("Insufficient {name}")));
        }
    }
    reasons
}

pub fn filter(pod: &PodInfo, node: &NodeInfo, data: &NodeData) -> Option<Failure> {
    let reasons = insufficient(
        &pod.requests.requests,
        &node.requested,
        node.pods.len(),
        &data.allocatable,
    );
    (!reasons.is_empty()).then_some(Failure {
        plugin: Plugin::NodeResourcesFit,
        reasons,
        resolvable: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Cache;
    use crate::testing::{info, node, pod};
    use crate::view::from_typed;
    use std::sync::Arc;

    fn cache_with(node_cpu: &str, pods: &[(&str, &str)]) -> Cache {
        let mut cache = Cache::default();
        cache.set_node(
            "n1",
            NodeData::new(&from_typed(&node("n1", node_cpu, "4Gi"))),
        );
        for (name, cpu) in pods {
            let mut p = info(&pod(name, cpu, "1Gi"));
            p.node_name = "n1".into();
            cache.add_pod(Arc::new(p));
        }
        cache
    }

    fn run(cache: &Cache, p: &PodInfo) -> Option<Failure> {
        let n = &cache.nodes()[0];
        filter(p, n, n.node.as_ref().unwrap())
    }

    #[test]
    fn requests_must_fit_what_is_left() {
        let cache = cache_with("2", &[("a", "1500m")]);
        assert!(run(&cache, &info(&pod("p", "500m", "1Gi"))).is_none());
        let f = run(&cache, &info(&pod("p", "600m", "1Gi"))).unwrap();
        assert_eq!(f.reasons, ["Insufficient cpu"]);
        assert!(f.resolvable);
        let f = run(&cache, &info(&pod("p", "3", "8Gi"))).unwrap();
        assert_eq!(f.reasons, ["Insufficient cpu", "Insufficient memory"]);
        // Pods without requests always fit the resources.
        assert!(run(&cache, &info(&pod("p", "", ""))).is_none());
    }

    #[test]
    fn pod_count_is_limited() {
        let alloc = Allocatable {
            pods: 1,
            ..Default::default()
        };
        assert_eq!(
            insufficient(&Resources::default(), &Resources::default(), 1, &alloc),
            ["Too many pods"]
        );
        assert!(insufficient(&Resources::default(), &Resources::default(), 0, &alloc).is_empty());
    }

    #[test]
    fn extended_resources() {
        let alloc = Allocatable {
            pods: 10,
            resources: Resources {
                scalar: vec![("example.com/gpu".into(), 1)],
                ..Default::default()
            },
        };
        let want = Resources {
            scalar: vec![("example.com/gpu".into(), 2)],
            ..Default::default()
        };
        assert_eq!(
            insufficient(&want, &Resources::default(), 0, &alloc),
            ["Insufficient example.com/gpu"]
        );
    }
}
