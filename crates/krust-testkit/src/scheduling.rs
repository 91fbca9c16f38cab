//! Nodes with allocatable resources, pods with requests, and what a scheduler does to them
//! (binding, the `PodScheduled` condition, Events), all in the `default` namespace.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::eventually;
use crate::objects::map;

/// Creates a Ready node with allocatable `cpu`, 8Gi of memory and 110 pods, `labels` (and
/// `kubernetes.io/hostname`) and `taints` (JSON, `null` for none).
pub async fn node(
    client: &Client,
    name: &str,
    cpu: &str,
    labels: &[(&str, &str)],
    taints: Value,
) -> Node {
    let mut all = map(labels);
    all.insert("kubernetes.io/hostname".into(), name.into());
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": all},
        "spec": {"taints": taints},
        "status": {
            "capacity": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }))
    .unwrap();
    let api: Api<Node> = Api::all(client.clone());
    api.create(&PostParams::default(), &node)
        .await
        .expect("creating a node")
}

/// Creates a pod with one container requesting `cpu` (empty for none); the members of
/// `extra_spec` are added to its spec.
pub async fn pod(client: &Client, name: &str, cpu: &str, extra_spec: Value) -> Pod {
    let mut spec = json!({"containers": [{"name": "c", "image": "nginx"}]});
    if !cpu.is_empty() {
        spec["containers"][0]["resources"] = json!({"requests": {"cpu": cpu}});
    }
    if let (Some(s), Some(extra)) = (spec.as_object_mut(), extra_spec.as_object()) {
        s.extend(extra.clone());
    }
    create_pod(
        client,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}),
    )
    .await
}

/// Creates a pod from JSON.
pub async fn create_pod(client: &Client, pod: Value) -> Pod {
    let pod: Pod = serde_json::from_value(pod).unwrap();
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &pod)
        .await
        .expect("creating a pod")
}

/// Reads a pod.
pub async fn get_pod(client: &Client, name: &str) -> Pod {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    api.get(name).await.expect("reading a pod")
}

/// Waits up to 15 s until the pod is bound; returns its node.
pub async fn bound_node(client: &Client, name: &str) -> String {
    eventually(
        Duration::from_secs(15),
        &format!("{name} to be bound"),
        || async {
            get_pod(client, name)
                .await
                .spec
                .and_then(|s| s.node_name)
                .filter(|n| !n.is_empty())
        },
    )
    .await
}

/// The pod's `PodScheduled` condition as (status, reason, message).
pub async fn scheduled_condition(client: &Client, name: &str) -> Option<(String, String, String)> {
    let pod = get_pod(client, name).await;
    let c = pod
        .status?
        .conditions?
        .into_iter()
        .find(|c| c.type_ == "PodScheduled")?;
    Some((
        c.status,
        c.reason.unwrap_or_default(),
        c.message.unwrap_or_default(),
    ))
}

/// The core/v1 Events about a pod.
pub async fn events_of(client: &Client, name: &str) -> Vec<Event> {
    let api: Api<Event> = Api::namespaced(client.clone(), "default");
    api.list(&ListParams::default())
        .await
        .expect("listing events")
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .collect()
}

/// Merge-patches a node.
pub async fn patch_node(client: &Client, name: &str, patch: Value) {
    let api: Api<Node> = Api::all(client.clone());
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patching a node");
}
