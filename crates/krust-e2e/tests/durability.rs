//! What was acknowledged survives `kill -9` of the server.

use krust_e2e::Cluster;

#[test]
fn configmap_survives_kill_9() {
    let mut c = Cluster::start();
    assert_eq!(
        c.ok(&["create", "configmap", "durable", "--from-literal=key=value"]),
        "configmap/durable created\n"
    );
    let before = c.get_json(&["cm", "durable"]);
    c.restart_after_kill9();
    let after = c.get_json(&["cm", "durable"]);
    assert_eq!(after["metadata"]["uid"], before["metadata"]["uid"]);
    assert_eq!(
        after["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );
    assert_eq!(
        after["metadata"]["creationTimestamp"],
        before["metadata"]["creationTimestamp"]
    );
    assert_eq!(after["data"]["key"], "value");

    // The store keeps going from where it was: new writes get newer resource versions.
    c.ok(&["create", "configmap", "later"]);
    let later: i64 = c
        .jsonpath(&["cm", "later"], "{.metadata.resourceVersion}")
        .parse()
        .unwrap();
    let old: i64 = before["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        later > old,
        "resourceVersion {later} after restart, {old} before"
    );
}

#[test]
fn every_kind_of_write_survives_kill_9() {
    let mut c = Cluster::start();
    c.ok(&["run", "nginx", "--image=nginx"]);
    c.ok(&["label", "pod", "nginx", "env=test"]);
    c.ok(&["create", "deployment", "web", "--image=nginx"]);
    c.ok(&["scale", "deployment", "web", "--replicas=3"]);
    c.ok(&["expose", "deployment", "web", "--port=80"]);
    c.ok(&["create", "namespace", "team-a"]);
    c.ok(&["create", "configmap", "gone"]);
    c.ok(&["delete", "configmap", "gone"]);
    let ip = c.jsonpath(&["svc", "web"], "{.spec.clusterIP}");

    c.restart_after_kill9();
    assert_eq!(
        c.jsonpath(&["pod", "nginx"], "{.metadata.labels.env}"),
        "test"
    );
    assert_eq!(c.jsonpath(&["deploy", "web"], "{.spec.replicas}"), "3");
    assert_eq!(c.jsonpath(&["svc", "web"], "{.spec.clusterIP}"), ip);
    assert_eq!(c.jsonpath(&["ns", "team-a"], "{.status.phase}"), "Active");
    let err = c.fails(&["get", "cm", "gone"]);
    assert_eq!(
        err.trim_end(),
        "Error from server (NotFound): configmaps \"gone\" not found"
    );

    // The allocator remembers the address in use.
    c.ok(&["create", "service", "clusterip", "other", "--tcp=80:80"]);
    assert_ne!(c.jsonpath(&["svc", "other"], "{.spec.clusterIP}"), ip);
}

#[test]
fn kubernetes_endpoints_follow_the_server_after_restart() {
    let mut c = Cluster::start();
    c.restart_after_kill9();
    let port = c.port().to_string();
    assert_eq!(
        c.jsonpath(&["endpoints", "kubernetes"], "{.subsets[0].ports[0].port}"),
        port
    );
    assert_eq!(
        c.jsonpath(
            &["endpoints", "kubernetes"],
            "{.subsets[0].addresses[0].ip}"
        ),
        "127.0.0.1"
    );
    assert_eq!(
        c.jsonpath(&["svc", "kubernetes"], "{.spec.ports[0].targetPort}"),
        port
    );
}
