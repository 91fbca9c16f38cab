//! Pods and Nodes as the sim reads them: only the fields a sim kubelet uses, with
//! `k8s-openapi`'s names and shapes. A worker keeps its pod for the pod's whole life, so the
//! full typed Pod (every container field, managedFields) would cost tens of kilobytes per pod;
//! these views skip the rest while decoding, unallocated (through `krust_component::view`; the
//! scheduler reads other fields of the same kinds).

use k8s_openapi::api::core::v1::NodeCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};
use krust_component::view::{MetaFields, lean_metadata};
use serde::{Deserialize, Deserializer};

/// A Pod, as the sim sees it.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Pod {
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: ObjectMeta,
    pub spec: Option<PodSpec>,
    pub status: Option<PodStatus>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    pub node_name: Option<String>,
    pub host_network: Option<bool>,
    #[serde(default)]
    pub containers: Vec<Container>,
    pub init_containers: Option<Vec<Container>>,
    /// Those `kubectl debug` adds (`pods/ephemeralcontainers`).
    pub ephemeral_containers: Option<Vec<Container>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    #[serde(default)]
    pub name: String,
    pub image: Option<String>,
    pub image_pull_policy: Option<String>,
    pub readiness_probe: Option<Probe>,
    /// `Always` makes an init container a sidecar.
    pub restart_policy: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub initial_delay_seconds: Option<i32>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    pub phase: Option<String>,
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
    pub start_time: Option<Time>,
    pub conditions: Option<Vec<PodCondition>>,
    pub ephemeral_container_statuses: Option<Vec<Named>>,
}

/// A list item of which the sim reads only the name.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Named {
    #[serde(default)]
    pub name: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodCondition {
    #[serde(rename = "type", default)]
    pub type_: String,
    #[serde(default)]
    pub status: String,
    pub last_transition_time: Option<Time>,
}

/// A Node, as the sim sees it: its pod CIDR and conditions.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Node {
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: ObjectMeta,
    pub spec: Option<NodeSpec>,
    pub status: Option<NodeStatus>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSpec {
    #[serde(rename = "podCIDR")]
    pub pod_cidr: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct NodeStatus {
    pub conditions: Option<Vec<NodeCondition>>,
}

impl Node {
    /// The view of a full Node.
    pub fn from_typed(node: k8s_openapi::api::core::v1::Node) -> Self {
        Node {
            metadata: node.metadata,
            spec: node.spec.map(|s| NodeSpec {
                pod_cidr: s.pod_cidr,
            }),
            status: node.status.map(|s| NodeStatus {
                conditions: s.conditions,
            }),
        }
    }
}

/// The metadata fields the sim reads; managedFields and the rest are skipped.
const META: MetaFields = MetaFields::IDENTITY
    .and(MetaFields::ANNOTATIONS)
    .and(MetaFields::DELETION_TIMESTAMP)
    .and(MetaFields::DELETION_GRACE_PERIOD_SECONDS);

fn metadata<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    lean_metadata(d, META)
}

krust_component::core_v1_view!(Pod, "Pod", "pods", NamespaceResourceScope);
krust_component::core_v1_view!(Node, "Node", "nodes", ClusterResourceScope);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_what_a_kubelet_needs_and_skips_the_rest() {
        let pod: Pod = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "uid": "u1",
                "labels": {"app": "web"}, "annotations": {"a": "b"},
                "deletionGracePeriodSeconds": 30,
                "deletionTimestamp": "2026-01-01T00:00:00Z",
                "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]},
            "spec": {"nodeName": "n1", "hostNetwork": true,
                "containers": [{"name": "c", "image": "nginx", "env": [{"name": "A"}],
                    "readinessProbe": {"initialDelaySeconds": 5, "httpGet": {"port": 80}}}],
                "initContainers": [{"name": "i", "restartPolicy": "Always"}]},
            "status": {"phase": "Running", "podIP": "10.0.0.5",
                "startTime": "2026-01-01T00:00:00Z",
                "conditions": [{"type": "Ready", "status": "True",
                    "lastTransitionTime": "2026-01-01T00:00:01Z"}]}
        }))
        .unwrap();
        let m = &pod.metadata;
        assert_eq!(
            (m.name.as_deref(), m.uid.as_deref()),
            (Some("p"), Some("u1"))
        );
        assert_eq!(m.annotations.as_ref().unwrap()["a"], "b");
        assert!(m.deletion_timestamp.is_some() && m.managed_fields.is_none());
        assert!(m.labels.is_none(), "not read");
        let spec = pod.spec.unwrap();
        assert_eq!(spec.host_network, Some(true));
        let c = &spec.containers[0];
        assert_eq!(
            c.readiness_probe.as_ref().unwrap().initial_delay_seconds,
            Some(5)
        );
        assert_eq!(
            spec.init_containers.unwrap()[0].restart_policy.as_deref(),
            Some("Always")
        );
        let status = pod.status.unwrap();
        assert_eq!(status.pod_ip.as_deref(), Some("10.0.0.5"));
        assert_eq!(status.conditions.unwrap()[0].type_, "Ready");
    }

    #[test]
    fn a_node_is_its_pod_cidr_and_conditions() {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "n1", "uid": "u", "managedFields": [{"manager": "kubelet"}]},
            "spec": {"podCIDR": "10.244.1.0/24", "taints": [{"key": "k", "effect": "NoSchedule"}]},
            "status": {"capacity": {"cpu": "4"}, "conditions": [{"type": "Ready", "status": "True"}]}
        }))
        .unwrap();
        assert_eq!(node.metadata.uid.as_deref(), Some("u"));
        assert_eq!(
            node.spec.unwrap().pod_cidr.as_deref(),
            Some("10.244.1.0/24")
        );
        assert_eq!(node.status.unwrap().conditions.unwrap()[0].type_, "Ready");
    }
}
