//! `pods/binding`: the scheduler's way of assigning a pod to a node, once.

use k8s_openapi::api::core::v1::Pod;
use krust_testkit::{pod, status};
use kube::api::{Api, PostParams};
use serde_json::json;

fn binding(pod: &str, node: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node}})
}

/// Posts `body` to the `binding` subresource of the pod it names.
async fn bind(pods: &Api<Pod>, body: &serde_json::Value) -> kube::Result<serde_json::Value> {
    let name = body["metadata"]["name"].as_str().unwrap();
    pods.create_subresource("binding", name, &PostParams::default(), body)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_sets_the_node_once() {
    let srv = krust_testkit::start().await;
    let pods: Api<Pod> = srv.api("default");
    pods.create(&PostParams::default(), &pod("p"))
        .await
        .unwrap();
    bind(&pods, &binding("p", "node-1")).await.unwrap();
    let bound = pods.get("p").await.unwrap();
    assert_eq!(
        bound.spec.as_ref().unwrap().node_name.as_deref(),
        Some("node-1")
    );
    let conditions = bound.status.unwrap().conditions.unwrap();
    assert!(
        conditions
            .iter()
            .any(|c| c.type_ == "PodScheduled" && c.status == "True")
    );

    let s = status(bind(&pods, &binding("p", "node-2")).await);
    assert_eq!(s.code, 409, "{s:?}");
    assert!(
        s.message.contains("is already assigned to node \"node-1\""),
        "{}",
        s.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uid_in_the_body_is_a_precondition() {
    let srv = krust_testkit::start().await;
    let pods: Api<Pod> = srv.api("default");
    pods.create(&PostParams::default(), &pod("p"))
        .await
        .unwrap();
    let patch = json!({"metadata": {"uid": "someone-else"}, "status": {"phase": "Running"}});
    let result = pods
        .patch_status(
            "p",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await;
    let s = status(result);
    assert_eq!(s.code, 409, "{s:?}");
    assert!(
        s.message
            .contains("Precondition failed: UID in precondition: someone-else"),
        "{}",
        s.message
    );
    assert_eq!(
        pods.get("p")
            .await
            .unwrap()
            .status
            .unwrap()
            .phase
            .as_deref(),
        Some("Pending")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_checks_uid_and_scheduling_gates_and_copies_annotations() {
    let srv = krust_testkit::start().await;
    let pods: Api<Pod> = srv.api("default");
    let created = pods
        .create(&PostParams::default(), &pod("p"))
        .await
        .unwrap();
    let mut stale = binding("p", "node-1");
    stale["metadata"]["uid"] = json!("an-older-pod");
    let s = status(bind(&pods, &stale).await);
    assert_eq!(s.code, 409, "{s:?}");
    assert!(
        s.message
            .contains("Precondition failed: UID in precondition: an-older-pod"),
        "{}",
        s.message
    );

    let mut current = binding("p", "node-1");
    current["metadata"]["uid"] = json!(created.metadata.uid);
    current["metadata"]["annotations"] = json!({"example.com/placed-by": "test"});
    bind(&pods, &current).await.unwrap();
    let bound = pods.get("p").await.unwrap();
    assert_eq!(bound.spec.unwrap().node_name.as_deref(), Some("node-1"));
    assert_eq!(
        bound.metadata.annotations.unwrap()["example.com/placed-by"],
        "test"
    );

    let mut gated = pod("gated");
    gated.spec.as_mut().unwrap().scheduling_gates =
        Some(vec![k8s_openapi::api::core::v1::PodSchedulingGate {
            name: "example.com/wait".into(),
        }]);
    pods.create(&PostParams::default(), &gated).await.unwrap();
    let s = status(bind(&pods, &binding("gated", "node-1")).await);
    assert_eq!(s.code, 409, "{s:?}");
    assert!(
        s.message.contains("has non-empty .spec.schedulingGates"),
        "{}",
        s.message
    );
}
