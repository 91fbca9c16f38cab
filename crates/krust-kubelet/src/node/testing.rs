//! Pods, containers and objects for the unit tests of `node`.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, PodSpec, Secret};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::context::{ObjectMap, PodContext};

/// A pod `web` in `prod` with uid `uid-1`, node `n1`, and the given containers.
pub fn pod(containers: Vec<Container>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("prod".into()),
            uid: Some("uid-1".into()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            node_name: Some("n1".into()),
            containers,
            ..PodSpec::default()
        }),
        ..Pod::default()
    }
}

/// A container `app` with no settings.
pub fn container() -> Container {
    Container {
        name: "app".into(),
        image: Some("busybox".into()),
        ..Container::default()
    }
}

/// A ConfigMap in `prod`.
pub fn config_map(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: meta(name),
        data: Some(pairs(data)),
        ..ConfigMap::default()
    }
}

/// A Secret in `prod`.
pub fn secret(name: &str, data: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: meta(name),
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        ),
        ..Secret::default()
    }
}

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some("prod".into()),
        ..ObjectMeta::default()
    }
}

/// A string map.
pub fn pairs(data: &[(&str, &str)]) -> BTreeMap<String, String> {
    data.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A resource list.
pub fn resources(list: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    list.iter()
        .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
        .collect()
}

/// Fixed addresses and allocatable for a [`PodContext`].
pub struct Node {
    /// Pod IPs.
    pub pod_ips: Vec<String>,
    /// Host IPs.
    pub host_ips: Vec<String>,
    /// Allocatable.
    pub allocatable: BTreeMap<String, Quantity>,
}

impl Default for Node {
    fn default() -> Self {
        Node {
            pod_ips: vec!["10.42.0.7".into()],
            host_ips: vec!["192.168.5.1".into()],
            allocatable: resources(&[("cpu", "2"), ("memory", "4Gi")]),
        }
    }
}

impl Node {
    /// The context of `pod` on this node with `objects`.
    pub fn context<'a>(&'a self, pod: &'a Pod, objects: &'a ObjectMap) -> PodContext<'a> {
        PodContext {
            pod,
            pod_ips: &self.pod_ips,
            host_ips: &self.host_ips,
            node_allocatable: &self.allocatable,
            objects,
        }
    }
}
