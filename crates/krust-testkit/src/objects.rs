//! Object builders.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use serde_json::{Value, json};

/// A ConfigMap with `labels` and `data`.
pub fn configmap(name: &str, labels: &[(&str, &str)], data: &[(&str, &str)]) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": map(labels)},
        "data": map(data),
    }))
    .expect("a ConfigMap")
}

/// A Pod labelled `app=<name>` with two containers, `app` and `sidecar`.
pub fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"containers": [
            {"name": "app", "image": "nginx:1.27", "env": [{"name": "A", "value": "1"}]},
            {"name": "sidecar", "image": "busybox:1.36", "command": ["sleep", "3600"]},
        ]},
    }))
    .expect("a Pod")
}

/// A Deployment of `replicas` pods labelled `app=<name>` with two containers, `app` and
/// `sidecar`.
pub fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [
                    {"name": "app", "image": "nginx:1.27"},
                    {"name": "sidecar", "image": "busybox:1.36", "command": ["sleep", "3600"]},
                ]},
            },
        },
    }))
    .expect("a Deployment")
}

/// A pod with one container (port `http` 8080) and `labels`, bound to `node` if given.
pub fn pod_json(name: &str, labels: Value, node: Option<&str>) -> Value {
    let mut pod = json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "nginx",
            "ports": [{"name": "http", "containerPort": 8080}]}]}
    });
    if let Some(node) = node {
        pod["spec"]["nodeName"] = json!(node);
    }
    pod
}

/// `pairs` as a map.
pub(crate) fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
