//! Service writes as kube-apiserver's Service storage does them: defaults, and cluster IPs
//! and node ports allocated when a Service's type changes and given back when it no longer
//! holds them.

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

fn service(name: &str, spec: serde_json::Value) -> Service {
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
}

fn spec(svc: &Service) -> serde_json::Value {
    serde_json::to_value(svc.spec.as_ref().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_port_absent_or_zero_is_the_port() {
    let srv = krust_testkit::start().await;
    let api: Api<Service> = srv.api("default");
    let ports = json!([{"name": "a", "port": 80}, {"name": "b", "port": 81, "targetPort": 0}]);
    let svc = api
        .create(
            &PostParams::default(),
            &service("web", json!({"ports": ports})),
        )
        .await
        .unwrap();
    let s = spec(&svc);
    assert_eq!(s["ports"][0]["targetPort"], 80);
    assert_eq!(s["ports"][1]["targetPort"], 81);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_leaving_external_name_gets_a_cluster_ip() {
    let srv = krust_testkit::start().await;
    let api: Api<Service> = srv.api("default");
    let external = json!({"type": "ExternalName", "externalName": "example.com"});
    let svc = api
        .create(&PostParams::default(), &service("ext", external))
        .await
        .unwrap();
    assert!(spec(&svc).get("clusterIP").is_none());

    let to_node_port = json!({"spec": {"type": "NodePort", "externalName": null,
                                       "ports": [{"port": 80}]}});
    let svc = api
        .patch("ext", &PatchParams::default(), &Patch::Merge(&to_node_port))
        .await
        .unwrap();
    let s = spec(&svc);
    let ip = s["clusterIP"].as_str().expect("a cluster IP").to_string();
    assert!(ip.starts_with("10.43."), "{ip}");
    assert_eq!(s["clusterIPs"], json!([ip]));
    let node_port = s["ports"][0]["nodePort"].as_u64().expect("a node port");
    assert!((30000..=32767).contains(&node_port));

    // Back to ClusterIP: the node port is given back, and another Service may take it.
    let to_cluster_ip =
        json!({"spec": {"type": "ClusterIP", "ports": [{"port": 80, "nodePort": null}]}});
    let svc = api
        .patch(
            "ext",
            &PatchParams::default(),
            &Patch::Merge(&to_cluster_ip),
        )
        .await
        .unwrap();
    assert_eq!(spec(&svc)["clusterIP"], ip.as_str());
    let taker = json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": node_port}]});
    api.create(&PostParams::default(), &service("taker", taker))
        .await
        .expect("the node port was given back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_load_balancer_holds_a_health_check_node_port_until_it_no_longer_needs_one() {
    let srv = krust_testkit::start().await;
    let api: Api<Service> = srv.api("default");
    let local = json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                       "ports": [{"port": 80}]});
    let svc = api
        .create(&PostParams::default(), &service("lb", local))
        .await
        .unwrap();
    let health = spec(&svc)["healthCheckNodePort"]
        .as_u64()
        .expect("a health check node port");
    assert!((30000..=32767).contains(&health), "{health}");
    assert_ne!(Some(health), spec(&svc)["ports"][0]["nodePort"].as_u64());

    // Asking for the same port elsewhere is refused, as Kubernetes does.
    let taken = json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                       "healthCheckNodePort": health, "ports": [{"port": 80}]});
    let err = api
        .create(&PostParams::default(), &service("lb2", taken.clone()))
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err}")
    };
    assert_eq!(status.code, 422);
    assert!(
        status.message.contains("spec.healthCheckNodePort")
            && status
                .message
                .contains("provided port is already allocated"),
        "{}",
        status.message
    );
    // Not a Local LoadBalancer: a health check node port is refused.
    let cluster = json!({"type": "NodePort", "healthCheckNodePort": 31999,
                         "ports": [{"port": 80}]});
    let err = api
        .create(&PostParams::default(), &service("np", cluster))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("may only be set when"), "{err}");

    // Cluster traffic policy: the port goes (the update left it as it was) and is free again.
    let to_cluster = json!({"spec": {"externalTrafficPolicy": "Cluster"}});
    let svc = api
        .patch("lb", &PatchParams::default(), &Patch::Merge(&to_cluster))
        .await
        .unwrap();
    assert!(
        spec(&svc).get("healthCheckNodePort").is_none(),
        "{}",
        spec(&svc)
    );
    let svc = api
        .create(&PostParams::default(), &service("lb2", taken))
        .await
        .unwrap();
    assert_eq!(spec(&svc)["healthCheckNodePort"], health);

    // Back to ClusterIP without naming the node ports: they go too.
    let to_cluster_ip = json!({"spec": {"type": "ClusterIP"}});
    let svc = api
        .patch("lb", &PatchParams::default(), &Patch::Merge(&to_cluster_ip))
        .await
        .unwrap();
    assert!(
        spec(&svc)["ports"][0].get("nodePort").is_none(),
        "{}",
        spec(&svc)
    );
}
