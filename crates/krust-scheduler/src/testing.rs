//! Hand-built pods and nodes for the unit tests.

use crate::podinfo::{LABEL_HOSTNAME, PodInfo};
use crate::selector::Labels;
use crate::view::from_typed;
use k8s_openapi::api::core::v1 as api;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::BTreeMap;

pub fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
        .collect()
}

pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A pod in `default` with one container requesting `cpu`/`memory` (empty for none).
pub fn pod(name: &str, cpu: &str, memory: &str) -> api::Pod {
    let mut requests = vec![];
    if !cpu.is_empty() {
        requests.push(("cpu", cpu));
    }
    if !memory.is_empty() {
        requests.push(("memory", memory));
    }
    api::Pod {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            uid: Some(format!("uid-{name}")),
            ..Default::default()
        },
        spec: Some(api::PodSpec {
            containers: vec![api::Container {
                name: "c".into(),
                resources: Some(api::ResourceRequirements {
                    requests: Some(quantities(&requests)),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn info(pod: &api::Pod) -> PodInfo {
    PodInfo::new(&from_typed(pod))
}

/// A node with allocatable `cpu`, `memory` and 110 pods.
pub fn node(name: &str, cpu: &str, memory: &str) -> api::Node {
    api::Node {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(name.into()),
            labels: Some(labels(&[(LABEL_HOSTNAME, name)])),
            ..Default::default()
        },
        spec: Some(api::NodeSpec::default()),
        status: Some(api::NodeStatus {
            allocatable: Some(quantities(&[
                ("cpu", cpu),
                ("memory", memory),
                ("pods", "110"),
            ])),
            ..Default::default()
        }),
    }
}
