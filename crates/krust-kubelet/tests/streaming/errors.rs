//! Nodes whose kubelet cannot be reached: clear errors.

use crate::cluster::*;
use crate::net::*;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_on_a_node_without_a_kubelet_is_a_clear_error() {
    let c = Cluster::start().await;
    let nodes: kube::Api<Node> = kube::Api::all(c.server.client.clone());
    let status = json!({"status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": 0}}}});
    nodes
        .patch_status(NODE, &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();
    let (code, _, err) = c.run(&["exec", POD, "--", "true"], None).await;
    assert_ne!(code, 0);
    assert!(err.contains("has no kubelet endpoint"), "{err}");
    let (code, _, err) = c.run(&["logs", POD], None).await;
    assert_ne!(code, 0);
    assert!(err.contains("does not serve logs yet"), "{err}");

    // An address where nothing answers.
    let status = json!({"status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": free_port()}}}});
    nodes
        .patch_status(NODE, &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();
    let (code, _, err) = c.run(&["exec", POD, "--", "true"], None).await;
    assert_ne!(code, 0);
    assert!(err.contains("error dialing backend"), "{err}");
    let (code, _, err) = c.run(&["logs", POD], None).await;
    assert_ne!(code, 0);
    assert!(err.contains("does not serve logs yet"), "{err}");
}
