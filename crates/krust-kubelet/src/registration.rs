//! What every kubelet (sim or real) does to register its Node: the conditions it reports,
//! taking over a Node of the same name, and the Events of a node coming up.

use k8s_openapi::api::core::v1::{Node, NodeCondition};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::events::Recorder;

pub const KUBELET_VERSION: &str = "v1.32.4-krust";

/// The kubelet's node conditions: (type, status, reason, message).
pub const CONDITIONS: [(&str, &str, &str, &str); 4] = [
    (
        "MemoryPressure",
        "False",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
    ),
    (
        "DiskPressure",
        "False",
        "KubeletHasNoDiskPressure",
        "kubelet has no disk pressure",
    ),
    (
        "PIDPressure",
        "False",
        "KubeletHasSufficientPID",
        "kubelet has sufficient PID available",
    ),
    (
        "Ready",
        "True",
        "KubeletReady",
        "kubelet is posting ready status",
    ),
];

/// The metadata a kubelet registers its Node with: its well-known labels (`kubernetes.io/
/// hostname`, `…/os`, `…/arch` and their beta twins) and annotations.
pub fn node_metadata(name: &str) -> Value {
    json!({
        "name": name,
        "labels": {
            "beta.kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
        },
        "annotations": {
            "node.alpha.kubernetes.io/ttl": "0",
            "volumes.kubernetes.io/controller-managed-attach-detach": "true",
        },
    })
}

/// The kubelet's conditions with a heartbeat now; transition times kept from `seen` while a
/// condition's status is unchanged.
pub fn conditions(seen: &[NodeCondition]) -> Value {
    let now = krust_api::meta::now();
    let list: Vec<Value> = CONDITIONS
        .iter()
        .map(|(type_, status, reason, message)| {
            let since = seen
                .iter()
                .find(|c| c.type_ == *type_ && c.status == *status)
                .and_then(|c| c.last_transition_time.as_ref())
                .map(|t| krust_api::meta::timestamp(t.0))
                .unwrap_or_else(|| now.clone());
            json!({"type": type_, "status": status, "reason": reason, "message": message,
                   "lastHeartbeatTime": now, "lastTransitionTime": since})
        })
        .collect();
    Value::Array(list)
}

/// Creates the Node; if one of that name exists, updates its labels and status to ours.
pub async fn take_over(api: &Api<Node>, typed: &Node, object: &Value) -> kube::Result<Node> {
    let status = || Patch::Strategic(json!({"status": object["status"]}));
    match api.create(&PostParams::default(), typed).await {
        Ok(n)
            if n.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some() =>
        {
            Ok(n)
        }
        Ok(n) => {
            api.patch_status(
                &n.metadata.name.unwrap_or_default(),
                &PatchParams::default(),
                &status(),
            )
            .await
        }
        Err(kube::Error::Api(e)) if e.code == 409 => {
            let name = typed.metadata.name.as_deref().unwrap_or_default();
            let meta = json!({"metadata": {"labels": object["metadata"]["labels"],
                                           "annotations": object["metadata"]["annotations"]}});
            api.patch(name, &PatchParams::default(), &Patch::Merge(meta))
                .await?;
            api.patch_status(name, &PatchParams::default(), &status())
                .await
        }
        Err(e) => Err(e),
    }
}

/// The Events of a kubelet that registered its node: Starting, the pressure conditions,
/// NodeAllocatableEnforced, NodeReady.
pub fn events(ev: &Recorder, node: &str) {
    ev.node(node, "Starting", "Starting kubelet.".into());
    for (_, _, reason, _) in &CONDITIONS[..3] {
        let r = reason.trim_start_matches("Kubelet");
        ev.node(
            node,
            &format!("Node{r}"),
            format!("Node {node} status is now: Node{r}"),
        );
    }
    ev.node(
        node,
        "NodeAllocatableEnforced",
        "Updated Node Allocatable limit across pods".into(),
    );
    ev.node(
        node,
        "NodeReady",
        format!("Node {node} status is now: NodeReady"),
    );
}
