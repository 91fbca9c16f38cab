//! The scheduler's views of Pods, Nodes and Namespaces: only the fields it reads, decoded
//! through `krust_component::view` (the sim kubelet reads other fields of the same kinds).
//!
//! Watch events are decoded into these lean types rather than the full `k8s-openapi` ones:
//! `managedFields`, annotations, container images, commands, env, probes and node status
//! details are skipped by the decoder instead of being allocated, which keeps the informers
//! cheap when thousands of pods change per second.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, Taint, Toleration, TopologySpreadConstraint};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};
use krust_component::view::{MetaFields, lean_metadata, null_as_default as nd};
use serde::{Deserialize, Deserializer};

/// The metadata fields the scheduler reads; everything else is skipped while decoding.
const META: MetaFields = MetaFields::IDENTITY
    .and(MetaFields::LABELS)
    .and(MetaFields::OWNER_REFERENCES)
    .and(MetaFields::CREATION_TIMESTAMP)
    .and(MetaFields::DELETION_TIMESTAMP);

fn lean_meta<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    lean_metadata(d, META)
}

/// A Pod, as the scheduler sees it.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Pod {
    #[serde(default, deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "nd")]
    pub spec: PodSpec,
    #[serde(default, deserialize_with = "nd")]
    pub status: PodStatus,
}
krust_component::core_v1_view!(Pod, "Pod", "pods", NamespaceResourceScope);

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default, deserialize_with = "nd")]
    pub node_name: String,
    #[serde(default, deserialize_with = "nd")]
    pub scheduler_name: String,
    #[serde(default, deserialize_with = "nd")]
    pub containers: Vec<Container>,
    #[serde(default, deserialize_with = "nd")]
    pub init_containers: Vec<Container>,
    #[serde(default, deserialize_with = "nd")]
    pub overhead: BTreeMap<String, Quantity>,
    #[serde(default, deserialize_with = "nd")]
    pub node_selector: BTreeMap<String, String>,
    pub affinity: Option<Affinity>,
    #[serde(default, deserialize_with = "nd")]
    pub tolerations: Vec<Toleration>,
    #[serde(default, deserialize_with = "nd")]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    pub priority: Option<i32>,
    pub preemption_policy: Option<String>,
    #[serde(default, deserialize_with = "nd")]
    pub scheduling_gates: Vec<serde::de::IgnoredAny>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    #[serde(default, deserialize_with = "nd")]
    pub resources: ContainerResources,
    #[serde(default, deserialize_with = "nd")]
    pub ports: Vec<ContainerPort>,
    pub restart_policy: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct ContainerResources {
    #[serde(default, deserialize_with = "nd")]
    pub requests: BTreeMap<String, Quantity>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    pub host_port: Option<i32>,
    #[serde(rename = "hostIP", default, deserialize_with = "nd")]
    pub host_ip: String,
    #[serde(default, deserialize_with = "nd")]
    pub protocol: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    #[serde(default, deserialize_with = "nd")]
    pub phase: String,
    #[serde(default, deserialize_with = "nd")]
    pub conditions: Vec<PodCondition>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PodCondition {
    #[serde(rename = "type", default, deserialize_with = "nd")]
    pub type_: String,
    #[serde(default, deserialize_with = "nd")]
    pub status: String,
    #[serde(default, deserialize_with = "nd")]
    pub reason: String,
    #[serde(default, deserialize_with = "nd")]
    pub message: String,
}

/// A Node, as the scheduler sees it.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Node {
    #[serde(default, deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "nd")]
    pub spec: NodeSpec,
    #[serde(default, deserialize_with = "nd")]
    pub status: NodeStatus,
}
krust_component::core_v1_view!(Node, "Node", "nodes", ClusterResourceScope);

#[derive(Clone, Debug, Default, Deserialize)]
pub struct NodeSpec {
    #[serde(default, deserialize_with = "nd")]
    pub unschedulable: bool,
    #[serde(default, deserialize_with = "nd")]
    pub taints: Vec<Taint>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct NodeStatus {
    #[serde(default, deserialize_with = "nd")]
    pub allocatable: BTreeMap<String, Quantity>,
    #[serde(default, deserialize_with = "nd")]
    pub capacity: BTreeMap<String, Quantity>,
}

/// A Namespace: its labels feed `namespaceSelector`s of pod affinity terms.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Namespace {
    #[serde(default, deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
}
krust_component::core_v1_view!(Namespace, "Namespace", "namespaces", ClusterResourceScope);

/// Converts a full `k8s-openapi` object (tests, callers holding typed objects) to a lean one.
pub fn from_typed<T: serde::Serialize, U: serde::de::DeserializeOwned>(obj: &T) -> U {
    serde_json::from_value(serde_json::to_value(obj).expect("serializable"))
        .expect("a lean view decodes from its full object")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_only_what_it_needs() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u1",
                "labels": {"app": "web"},
                "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
                "annotations": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "nginx",
                "resources": {"requests": {"cpu": "100m"}},
                "ports": [{"containerPort": 80, "hostPort": 8080}]}],
                "tolerations": null, "schedulerName": "default-scheduler"},
            "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False"}]}
        }))
        .unwrap();
        assert_eq!(pod.metadata.name.as_deref(), Some("p"));
        assert!(pod.metadata.managed_fields.is_none());
        assert_eq!(pod.spec.containers[0].ports[0].host_port, Some(8080));
        assert_eq!(pod.spec.containers[0].resources.requests["cpu"].0, "100m");
        assert!(pod.spec.tolerations.is_empty());
        assert_eq!(pod.status.conditions[0].type_, "PodScheduled");
    }
}
