//! `pods/ephemeralcontainers`: the one way to add a container to a running pod (what
//! `kubectl debug` does), with Kubernetes' rules: only `spec.ephemeralContainers` changes,
//! existing ones stay as they are, and each is checked as `validateEphemeralContainers`
//! checks it.

use k8s_openapi::api::core::v1::Pod;
use krust_testkit::{pod, status};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

async fn pods() -> (krust_testkit::TestServer, Api<Pod>) {
    let srv = krust_testkit::start().await;
    let pods: Api<Pod> = srv.api("default");
    pods.create(&PostParams::default(), &pod("p"))
        .await
        .unwrap();
    (srv, pods)
}

/// The strategic merge patch kubectl 1.32's `debug` sends (`CreateTwoWayMergePatch` of
/// the pod and the pod with the debug container).
fn debug_patch(container: Value) -> Value {
    json!({"spec": {"ephemeralContainers": [container]}})
}

async fn add(pods: &Api<Pod>, container: Value) -> kube::Result<Pod> {
    pods.patch_ephemeral_containers(
        "p",
        &PatchParams::default(),
        &Patch::Strategic(debug_patch(container)),
    )
    .await
}

fn ephemeral(p: &Pod) -> Vec<Value> {
    let spec = p.spec.as_ref().unwrap();
    spec.ephemeral_containers
        .iter()
        .flatten()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_debug_container_is_added_with_the_container_defaults() {
    // The pod is not bound to a node: Kubernetes accepts ephemeral containers then too (its
    // kubelet starts them once it runs the pod).
    let (_srv, pods) = pods().await;
    let unbound = pods.get("p").await.unwrap();
    assert_eq!(unbound.spec.as_ref().unwrap().node_name, None);
    let added = add(
        &pods,
        json!({"name": "debugger-abcde", "image": "busybox:1.36", "stdin": true, "tty": true,
            "targetContainerName": "app", "terminationMessagePolicy": "File",
            "resources": {}}),
    )
    .await
    .unwrap();
    let list = ephemeral(&added);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "debugger-abcde");
    assert_eq!(list[0]["targetContainerName"], "app");
    assert_eq!(list[0]["imagePullPolicy"], "IfNotPresent");
    assert_eq!(list[0]["terminationMessagePath"], "/dev/termination-log");
    let got = pods.get_ephemeral_containers("p").await.unwrap();
    assert_eq!(ephemeral(&got), list, "GET of the subresource is the pod");
    let second = add(&pods, json!({"name": "dbg", "image": "busybox:1.36"}))
        .await
        .unwrap();
    let mut names: Vec<String> = ephemeral(&second)
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["dbg", "debugger-abcde"],
        "a later patch adds to the list"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subresource_changes_nothing_but_the_ephemeral_containers() {
    let (_srv, pods) = pods().await;
    let mut body = pods.get("p").await.unwrap();
    let spec = body.spec.as_mut().unwrap();
    spec.containers[0].image = Some("nginx:changed".into());
    spec.ephemeral_containers = Some(vec![
        serde_json::from_value(json!({"name": "dbg", "image": "busybox"})).unwrap(),
    ]);
    body.metadata.labels = Some([("changed".to_string(), "yes".to_string())].into());
    body.status = Some(serde_json::from_value(json!({"phase": "Failed"})).unwrap());
    let written = pods
        .replace_ephemeral_containers("p", &PostParams::default(), &body)
        .await
        .unwrap();
    assert_eq!(ephemeral(&written).len(), 1);
    let spec = written.spec.as_ref().unwrap();
    assert_eq!(spec.containers[0].image.as_deref(), Some("nginx:1.27"));
    assert_eq!(written.metadata.labels.unwrap()["app"], "p");
    assert_eq!(
        written.status.unwrap().phase.as_deref(),
        Some("Pending"),
        "the status stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_ephemeral_containers_may_not_be_changed_or_removed() {
    let (_srv, pods) = pods().await;
    add(&pods, json!({"name": "dbg", "image": "busybox"}))
        .await
        .unwrap();
    let changed = add(&pods, json!({"name": "dbg", "image": "alpine"})).await;
    let s = status(changed);
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"), "{s:?}");
    assert!(
        s.message.starts_with(
            "Pod \"p\" is invalid: spec.ephemeralContainers[dbg]: Forbidden: existing ephemeral containers \"dbg\" may not be changed\n"
        ),
        "{}",
        s.message
    );
    let removed = pods
        .patch_ephemeral_containers(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"ephemeralContainers": []}})),
        )
        .await;
    let s = status(removed);
    assert_eq!(
        s.message,
        "Pod \"p\" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral containers \"dbg\" may not be removed\n"
    );
    let pod = pods.get("p").await.unwrap();
    assert_eq!(ephemeral(&pod)[0]["image"], "busybox", "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_ephemeral_containers_get_kubernetes_messages() {
    let (_srv, pods) = pods().await;
    let cases = [
        (
            json!({"name": "app", "image": "busybox"}),
            "spec.ephemeralContainers[0].name: Duplicate value: \"app\"",
        ),
        (
            json!({"name": "dbg", "image": "busybox", "targetContainerName": "nope"}),
            "spec.ephemeralContainers[0].targetContainerName: Not found: \"nope\"",
        ),
        (
            json!({"name": "dbg", "image": "busybox", "ports": [{"containerPort": 80}]}),
            "spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container",
        ),
        (
            json!({"name": "dbg", "image": "busybox",
                "readinessProbe": {"exec": {"command": ["true"]}}}),
            "spec.ephemeralContainers[0].readinessProbe: Forbidden: cannot be set for an Ephemeral Container",
        ),
        (
            json!({"name": "dbg", "image": "busybox",
                "lifecycle": {"postStart": {"exec": {"command": ["true"]}}}}),
            "spec.ephemeralContainers[0].lifecycle: Forbidden: cannot be set for an Ephemeral Container",
        ),
        (
            json!({"name": "dbg", "image": "busybox", "resources": {"limits": {"cpu": "1"}}}),
            "spec.ephemeralContainers[0].resources: Forbidden: cannot be set for an Ephemeral Container",
        ),
        (
            json!({"name": "dbg"}),
            "spec.ephemeralContainers[0].image: Required value",
        ),
        (
            json!({"name": "Bad_Name", "image": "busybox"}),
            "spec.ephemeralContainers[0].name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label",
        ),
    ];
    for (container, message) in cases {
        let s = status(add(&pods, container.clone()).await);
        assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"), "{container}");
        let expected = format!("Pod \"p\" is invalid: {message}");
        assert!(s.message.starts_with(&expected), "{}", s.message);
    }
    let pod = pods.get("p").await.unwrap();
    assert!(ephemeral(&pod).is_empty(), "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_pod_update_may_not_change_ephemeral_containers() {
    let (_srv, pods) = pods().await;
    let patch = debug_patch(json!({"name": "dbg", "image": "busybox"}));
    let s = status(
        pods.patch("p", &PatchParams::default(), &Patch::Strategic(patch))
            .await,
    );
    assert_eq!(s.code, 422);
    assert!(
        s.message.starts_with(
            "Pod \"p\" is invalid: spec: Forbidden: pod updates may not change fields other than"
        ),
        "{}",
        s.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_are_not_created_with_ephemeral_containers() {
    let srv = krust_testkit::start().await;
    let pods: Api<Pod> = srv.api("default");
    let mut p = pod("p");
    p.spec.as_mut().unwrap().ephemeral_containers = Some(vec![
        serde_json::from_value(json!({"name": "dbg", "image": "busybox"})).unwrap(),
    ]);
    let s = status(pods.create(&PostParams::default(), &p).await);
    assert_eq!(
        s.message,
        "Pod \"p\" is invalid: spec.ephemeralContainers: Forbidden: cannot be set on create"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_names_the_subresource() {
    let srv = krust_testkit::start().await;
    let list: Value = srv
        .client
        .request(http::Request::get("/api/v1").body(Vec::new()).unwrap())
        .await
        .unwrap();
    let sub = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "pods/ephemeralcontainers")
        .expect("pods/ephemeralcontainers is served");
    assert_eq!(sub["kind"], "Pod");
    assert_eq!(sub["verbs"], json!(["get", "patch", "update"]));
}
