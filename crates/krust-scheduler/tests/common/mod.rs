//! Helpers for the scheduler's integration tests: a server, nodes created through the API,
//! pods, and waiting for what the scheduler does to them.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

pub use krust_testkit::{TestServer, eventually};

/// A server with the scheduler running against it.
pub async fn start() -> TestServer {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    tokio::spawn(async move {
        if let Err(e) = krust_scheduler::run(client).await {
            panic!("scheduler stopped: {e:#}");
        }
    });
    server
}

/// Creates a node with allocatable `cpu`, `memory` and 110 pods, extra labels and taints.
pub async fn node(
    client: &Client,
    name: &str,
    cpu: &str,
    labels: &[(&str, &str)],
    taints: Value,
) -> Node {
    let mut all: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
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

/// Creates a pod in `default` with one container requesting `cpu` (empty for none).
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

pub async fn create_pod(client: &Client, pod: Value) -> Pod {
    let pod: Pod = serde_json::from_value(pod).unwrap();
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &pod)
        .await
        .expect("creating a pod")
}

pub async fn get_pod(client: &Client, name: &str) -> Pod {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    api.get(name).await.expect("reading a pod")
}

/// Waits until the pod is bound; returns its node.
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

/// The core/v1 events about a pod.
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

pub async fn patch_node(client: &Client, name: &str, patch: Value) {
    let api: Api<Node> = Api::all(client.clone());
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patching a node");
}
