//! Helpers shared by the endpoints, gc, namespace, nodes and serviceaccount tests.
#![allow(dead_code)]

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::fmt::Debug;
use std::future::Future;

pub use krust_testkit::eventually;

/// Runs a controller in the background; aborted when the handle drops.
pub struct Running(tokio::task::JoinHandle<()>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub fn spawn<F>(name: &'static str, f: F) -> Running
where
    F: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    Running(tokio::spawn(async move {
        if let Err(e) = f.await {
            panic!("controller {name} failed: {e:#}");
        }
    }))
}

/// Creates an object from JSON in `namespace`.
pub async fn create<K>(client: &Client, namespace: &str, obj: Value) -> K
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Serialize + Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let obj: K = serde_json::from_value(obj).expect("a valid object");
    api.create(&PostParams::default(), &obj)
        .await
        .expect("creating an object")
}

/// Creates a namespace.
pub async fn namespace(client: &Client, name: &str) -> Namespace {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    api.create(&PostParams::default(), &ns)
        .await
        .expect("creating a namespace")
}

/// A pod with one container (port `http` 8080), labels, optionally bound to `node`.
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

/// Sets a pod's IP and Ready condition through `pods/status`, as a kubelet would.
pub async fn set_pod_status(client: &Client, namespace: &str, name: &str, ip: &str, ready: bool) {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let status = if ready { "True" } else { "False" };
    let patch = json!({"status": {
        "phase": "Running",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "conditions": [
            {"type": "Ready", "status": status},
            {"type": "ContainersReady", "status": status},
        ],
    }});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patching pod status");
}
