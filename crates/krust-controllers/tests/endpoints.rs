//! The Endpoints and EndpointSlice controllers against an in-process API server: pods are
//! created by hand and their readiness and IPs patched through `pods/status`.

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use krust_controllers::informers::Informers;
use krust_testkit::{create, eventually, pod_json, set_pod_status, spawn};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use std::time::Duration;

fn service_json(name: &str) -> serde_json::Value {
    json!({
        "metadata": {"name": name, "labels": {"tier": "front"}},
        "spec": {"selector": {"app": "web"}, "ports": [
            {"name": "http", "port": 80, "targetPort": "http"},
            {"name": "metrics", "port": 9090, "targetPort": 9091},
        ]}
    })
}

/// (ready IPs, not-ready IPs) of an Endpoints object, sorted.
fn addresses(ep: &Endpoints) -> (Vec<String>, Vec<String>) {
    let mut ready = Vec::new();
    let mut not_ready = Vec::new();
    for s in ep.subsets.iter().flatten() {
        ready.extend(s.addresses.iter().flatten().map(|a| a.ip.clone()));
        not_ready.extend(s.not_ready_addresses.iter().flatten().map(|a| a.ip.clone()));
    }
    ready.sort();
    not_ready.sort();
    (ready, not_ready)
}

async fn endpoints_where(
    client: &Client,
    name: &str,
    what: &str,
    want: impl Fn(&Endpoints) -> bool,
) -> Endpoints {
    let api: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    eventually(Duration::from_secs(10), what, || async {
        api.get_opt(name).await.unwrap().filter(|e| want(e))
    })
    .await
}

#[tokio::test]
async fn endpoints_follow_pod_readiness_and_named_ports() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let _ctl = spawn(
        "endpoints",
        krust_controllers::endpoints::run(Informers::new(client.clone())),
    );

    let _svc: Service = create(&client, "default", service_json("web")).await;
    let _a: Pod = create(
        &client,
        "default",
        pod_json("a", json!({"app": "web"}), Some("n1")),
    )
    .await;
    let _b: Pod = create(
        &client,
        "default",
        pod_json("b", json!({"app": "web"}), Some("n2")),
    )
    .await;
    let _other: Pod = create(
        &client,
        "default",
        pod_json("other", json!({"app": "db"}), Some("n1")),
    )
    .await;

    // No IPs yet: an Endpoints object without addresses.
    let ep = endpoints_where(&client, "web", "empty endpoints", |_| true).await;
    assert_eq!(addresses(&ep), (vec![], vec![]));
    assert_eq!(
        ep.labels()
            .get("endpoints.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("endpoint-controller")
    );
    assert_eq!(ep.labels().get("tier").map(String::as_str), Some("front"));

    set_pod_status(&client, "default", "a", "10.42.0.10", true).await;
    set_pod_status(&client, "default", "b", "10.42.1.10", false).await;
    set_pod_status(&client, "default", "other", "10.42.0.11", true).await;
    let ep = endpoints_where(&client, "web", "a ready, b not ready", |e| {
        addresses(e) == (vec!["10.42.0.10".into()], vec!["10.42.1.10".into()])
    })
    .await;
    let subset = &ep.subsets.as_ref().unwrap()[0];
    let a = &subset.addresses.as_ref().unwrap()[0];
    assert_eq!(a.node_name.as_deref(), Some("n1"));
    let target = a.target_ref.as_ref().unwrap();
    assert_eq!(target.kind.as_deref(), Some("Pod"));
    assert_eq!(target.name.as_deref(), Some("a"));
    assert_eq!(target.namespace.as_deref(), Some("default"));
    assert!(target.uid.is_some());
    let mut ports: Vec<(String, i32)> = subset
        .ports
        .iter()
        .flatten()
        .map(|p| (p.name.clone().unwrap_or_default(), p.port))
        .collect();
    ports.sort();
    assert_eq!(
        ports,
        vec![("http".into(), 8080), ("metrics".into(), 9091)],
        "named targetPort resolved to the container port, numbers kept"
    );

    // Readiness flips both ways.
    set_pod_status(&client, "default", "a", "10.42.0.10", false).await;
    set_pod_status(&client, "default", "b", "10.42.1.10", true).await;
    endpoints_where(&client, "web", "a not ready, b ready", |e| {
        addresses(e) == (vec!["10.42.1.10".into()], vec!["10.42.0.10".into()])
    })
    .await;

    // Settled: no further writes (a sync that finds nothing to change writes nothing).
    let settled = endpoints_where(&client, "web", "settled", |_| true).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let later = endpoints_where(&client, "web", "still there", |_| true).await;
    assert_eq!(settled.resource_version(), later.resource_version());

    // A pod whose labels stop matching leaves; a deleted pod leaves.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "other"}}})),
    )
    .await
    .unwrap();
    endpoints_where(&client, "web", "a gone after relabel", |e| {
        addresses(e) == (vec!["10.42.1.10".into()], vec![])
    })
    .await;
    pods.delete("b", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    endpoints_where(&client, "web", "b gone after delete", |e| {
        addresses(e) == (vec![], vec![])
    })
    .await;

    // The Endpoints go with the Service.
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    services
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    let eps: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    eventually(
        Duration::from_secs(10),
        "endpoints deleted with the service",
        || async { eps.get_opt("web").await.unwrap().is_none().then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn endpoints_leave_selectorless_services_and_kubernetes_alone() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let _ctl = spawn(
        "endpoints",
        krust_controllers::endpoints::run(Informers::new(client.clone())),
    );
    let _svc: Service = create(
        &client,
        "default",
        json!({"metadata": {"name": "manual"}, "spec": {"ports": [{"port": 80}]}}),
    )
    .await;
    let manual: Endpoints = create(
        &client,
        "default",
        json!({"metadata": {"name": "manual"},
               "subsets": [{"addresses": [{"ip": "192.0.2.1"}], "ports": [{"port": 80}]}]}),
    )
    .await;
    // A selector service to know the controller has synced.
    let _web: Service = create(&client, "default", service_json("web")).await;
    endpoints_where(&client, "web", "web endpoints", |_| true).await;
    let eps: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let now = eps.get("manual").await.unwrap();
    assert_eq!(now.resource_version(), manual.resource_version());
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    assert!(services.get_opt("kubernetes").await.unwrap().is_some());
}

fn slice_endpoints(slices: &[EndpointSlice]) -> Vec<(String, bool, bool, bool)> {
    let mut out: Vec<_> = slices
        .iter()
        .flat_map(|s| s.endpoints.iter())
        .map(|e| {
            let c = e.conditions.clone().unwrap_or_default();
            (
                e.addresses[0].clone(),
                c.ready == Some(true),
                c.serving == Some(true),
                c.terminating == Some(true),
            )
        })
        .collect();
    out.sort();
    out
}

async fn slices_where(
    client: &Client,
    service: &str,
    what: &str,
    want: impl Fn(&[EndpointSlice]) -> bool,
) -> Vec<EndpointSlice> {
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let lp = ListParams::default().labels(&format!("kubernetes.io/service-name={service}"));
    eventually(Duration::from_secs(10), what, || async {
        let list = api.list(&lp).await.unwrap().items;
        want(&list).then_some(list)
    })
    .await
}

#[tokio::test]
async fn endpoint_slices_follow_pods() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let _ctl = spawn(
        "endpointslice",
        krust_controllers::endpointslice::run(Informers::new(client.clone())),
    );
    let svc: Service = create(&client, "default", service_json("web")).await;

    // A service without endpoints gets one placeholder slice.
    let slices = slices_where(&client, "web", "placeholder slice", |s| s.len() == 1).await;
    let placeholder = &slices[0];
    assert!(placeholder.endpoints.is_empty());
    assert!(placeholder.name_any().starts_with("web-"));
    assert_eq!(placeholder.name_any().len(), "web-".len() + 5);
    assert_eq!(placeholder.address_type, "IPv4");
    let labels = placeholder.labels();
    assert_eq!(labels["kubernetes.io/service-name"], "web");
    assert_eq!(
        labels["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(labels["tier"], "front");
    let owner = &placeholder.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("Service", "web", Some(true))
    );
    assert_eq!(Some(&owner.uid), svc.metadata.uid.as_ref());

    let _a: Pod = create(
        &client,
        "default",
        pod_json("a", json!({"app": "web"}), Some("n1")),
    )
    .await;
    let _b: Pod = create(
        &client,
        "default",
        pod_json("b", json!({"app": "web"}), Some("n2")),
    )
    .await;
    set_pod_status(&client, "default", "a", "10.42.0.10", true).await;
    set_pod_status(&client, "default", "b", "10.42.1.10", false).await;
    let slices = slices_where(&client, "web", "two endpoints", |s| {
        slice_endpoints(s)
            == vec![
                ("10.42.0.10".into(), true, true, false),
                ("10.42.1.10".into(), false, false, false),
            ]
    })
    .await;
    assert_eq!(slices.len(), 1, "the placeholder is reused: {slices:?}");
    let slice = &slices[0];
    let mut ports: Vec<(String, i32)> = slice
        .ports
        .iter()
        .flatten()
        .map(|p| (p.name.clone().unwrap_or_default(), p.port.unwrap()))
        .collect();
    ports.sort();
    assert_eq!(ports, vec![("http".into(), 8080), ("metrics".into(), 9091)]);
    let a = slice
        .endpoints
        .iter()
        .find(|e| e.addresses == ["10.42.0.10"])
        .unwrap();
    assert_eq!(a.node_name.as_deref(), Some("n1"));
    assert_eq!(a.target_ref.as_ref().unwrap().name.as_deref(), Some("a"));

    // Readiness flips.
    set_pod_status(&client, "default", "a", "10.42.0.10", false).await;
    set_pod_status(&client, "default", "b", "10.42.1.10", true).await;
    slices_where(&client, "web", "readiness flipped", |s| {
        slice_endpoints(s)
            == vec![
                ("10.42.0.10".into(), false, false, false),
                ("10.42.1.10".into(), true, true, false),
            ]
    })
    .await;

    // Settled: no further writes.
    let versions = |s: &[EndpointSlice]| {
        let mut v: Vec<_> = s.iter().map(|s| s.resource_version()).collect();
        v.sort();
        v
    };
    let settled = slices_where(&client, "web", "settled", |_| true).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let later = slices_where(&client, "web", "still there", |_| true).await;
    assert_eq!(versions(&settled), versions(&later));

    // A terminating pod stays, not ready but serving and terminating.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.delete("b", &DeleteParams::default()).await.unwrap();
    slices_where(&client, "web", "b terminating", |s| {
        slice_endpoints(s)
            == vec![
                ("10.42.0.10".into(), false, false, false),
                ("10.42.1.10".into(), false, true, true),
            ]
    })
    .await;

    // A pod whose named port does not resolve lands in a slice of its own port set.
    let _c: Pod = create(
        &client,
        "default",
        json!({"metadata": {"name": "c", "labels": {"app": "web"}},
               "spec": {"containers": [{"name": "c", "image": "nginx"}]}}),
    )
    .await;
    set_pod_status(&client, "default", "c", "10.42.2.10", true).await;
    let slices = slices_where(&client, "web", "a second port set", |s| {
        slice_endpoints(s).len() == 3 && s.len() == 2
    })
    .await;
    let c_slice = slices
        .iter()
        .find(|s| s.endpoints.iter().any(|e| e.addresses == ["10.42.2.10"]))
        .unwrap();
    let c_ports: Vec<i32> = c_slice
        .ports
        .iter()
        .flatten()
        .map(|p| p.port.unwrap())
        .collect();
    assert_eq!(c_ports, vec![9091]);

    // Deleting the service deletes its slices.
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    services
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    slices_where(
        &client,
        "web",
        "slices deleted",
        <[EndpointSlice]>::is_empty,
    )
    .await;
}

#[tokio::test]
async fn endpoint_slices_are_recreated_when_deleted() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let _ctl = spawn(
        "endpointslice",
        krust_controllers::endpointslice::run(Informers::new(client.clone())),
    );
    let _svc: Service = create(&client, "default", service_json("web")).await;
    let _a: Pod = create(
        &client,
        "default",
        pod_json("a", json!({"app": "web"}), Some("n1")),
    )
    .await;
    set_pod_status(&client, "default", "a", "10.42.0.10", true).await;
    let slices = slices_where(&client, "web", "one slice with one endpoint", |s| {
        s.len() == 1 && slice_endpoints(s).len() == 1
    })
    .await;
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    api.delete(&slices[0].name_any(), &DeleteParams::default())
        .await
        .unwrap();
    let again = slices_where(&client, "web", "slice re-created", |s| {
        slice_endpoints(s).len() == 1 && s[0].name_any() != slices[0].name_any()
    })
    .await;
    assert_eq!(again.len(), 1);
}
