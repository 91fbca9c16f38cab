//! Calls through the API, and reading their answers.

use std::fmt::Debug;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::core::Status;
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

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

/// The API Status of a failed request (panics on success or any other error).
pub fn status(result: Result<impl Debug, kube::Error>) -> Status {
    match result {
        Err(kube::Error::Api(s)) => *s,
        other => panic!("expected an API error Status, got {other:?}"),
    }
}

/// The sorted names of `objects`.
pub fn names<'a, K: ResourceExt + 'a>(objects: impl IntoIterator<Item = &'a K>) -> Vec<String> {
    let mut v: Vec<String> = objects.into_iter().map(|o| o.name_any()).collect();
    v.sort();
    v
}

/// The API server's `apiserver_registered_watchers` of `resource` (a plural), from
/// `/metrics`; 0 when it has none.
pub async fn registered_watchers(client: &Client, resource: &str) -> u64 {
    let request = http::Request::get("/metrics").body(Vec::new()).unwrap();
    let text = client
        .request_text(request)
        .await
        .expect("reading /metrics");
    let series = format!("apiserver_registered_watchers{{resource=\"{resource}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .map_or(0, |n| n.trim().parse().expect("a count"))
}
