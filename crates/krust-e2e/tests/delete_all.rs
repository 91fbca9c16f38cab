//! `kubectl delete all --all`, including the `default/kubernetes` Service the server re-creates.

use krust_e2e::{Cluster, table, true_within};
use std::time::Duration;

#[test]
fn delete_all_removes_everything_and_the_kubernetes_service_comes_back() {
    let c = Cluster::start();
    c.ok(&["run", "p1", "--image=nginx"]);
    c.ok(&["create", "deployment", "web", "--image=nginx"]);
    c.ok(&["expose", "deployment", "web", "--port=80"]);
    c.ok(&["create", "configmap", "not-in-all", "--from-literal=a=b"]);
    let old_uid = c.jsonpath(&["svc", "kubernetes"], "{.metadata.uid}");

    let out = c.ok(&["delete", "all", "--all"]);
    let lines: Vec<&str> = out.lines().collect();
    // Everything in the `all` category, in its order: pods, services, ..., deployments.
    let at = |line: &str| {
        lines
            .iter()
            .position(|l| *l == line)
            .unwrap_or_else(|| panic!("no line {line:?} in\n{out}"))
    };
    let pod = at("pod \"p1\" deleted");
    let kubernetes = at("service \"kubernetes\" deleted");
    let web = at("service \"web\" deleted");
    let deployment = at("deployment.apps \"web\" deleted");
    assert!(
        pod < kubernetes && kubernetes < web && web < deployment,
        "{out}"
    );
    assert!(!out.contains("configmap"), "{out}");

    // The server re-creates default/kubernetes, with the first address of the range.
    let back = true_within(Duration::from_secs(5), || {
        c.kubectl(&["get", "svc", "kubernetes"]).success()
    });
    assert!(back, "the kubernetes Service was not re-created within 5 s");
    let svc = c.get_json(&["svc", "kubernetes"]);
    assert_ne!(
        svc["metadata"]["uid"],
        old_uid.as_str(),
        "a new object: {svc}"
    );
    assert_eq!(svc["spec"]["clusterIP"], "10.43.0.1", "{svc}");
    assert_eq!(svc["spec"]["ports"][0]["port"], 443, "{svc}");

    // Only it is left of the `all` category; configmaps are not in it.
    let out = c.ok(&["get", "all"]);
    let rows = table(&out);
    assert_eq!(rows.len(), 2, "{out}");
    assert_eq!(rows[1][0], "service/kubernetes", "{out}");
    let err = c.fails(&["get", "deploy", "web"]);
    assert_eq!(
        err.trim_end(),
        "Error from server (NotFound): deployments.apps \"web\" not found"
    );
    assert_eq!(c.jsonpath(&["cm", "not-in-all"], "{.data.a}"), "b");
}

#[test]
fn delete_by_label_selector_only_deletes_matching_objects() {
    let c = Cluster::start();
    c.ok(&["run", "a", "--image=nginx", "--labels=tier=web"]);
    c.ok(&["run", "b", "--image=nginx", "--labels=tier=db"]);
    assert_eq!(
        c.ok(&["delete", "pods", "-l", "tier=web"]),
        "pod \"a\" deleted\n"
    );
    let rows = table(&c.ok(&["get", "pods"]));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1][0], "b");
}
