//! Discovery and OpenAPI as kubectl uses them: api-resources, api-versions, explain, get all.

use krust_e2e::{Cluster, table};

#[test]
fn api_resources_lists_the_built_in_types() {
    let c = Cluster::start();
    let out = c.ok(&["api-resources"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        table(&out)[0],
        ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"],
        "{out}"
    );
    let rows = table(&out);
    let find = |name: &str| {
        rows.iter()
            .find(|r| r[0] == name)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        find("deployments"),
        ["deployments", "deploy", "apps/v1", "true", "Deployment"],
        "{out}"
    );
    assert_eq!(find("pods"), ["pods", "po", "v1", "true", "Pod"], "{out}");
    assert_eq!(
        find("services"),
        ["services", "svc", "v1", "true", "Service"],
        "{out}"
    );
    assert_eq!(
        find("namespaces"),
        ["namespaces", "ns", "v1", "false", "Namespace"],
        "{out}"
    );
    assert_eq!(
        find("configmaps"),
        ["configmaps", "cm", "v1", "true", "ConfigMap"],
        "{out}"
    );
    assert_eq!(
        find("replicasets"),
        ["replicasets", "rs", "apps/v1", "true", "ReplicaSet"],
        "{out}"
    );
    assert_eq!(
        find("nodes"),
        ["nodes", "no", "v1", "false", "Node"],
        "{out}"
    );
    assert!(lines.len() > 10, "{out}");

    // Filters handled by kubectl over discovery.
    let out = c.ok(&["api-resources", "--api-group=apps", "-o", "name"]);
    let names: Vec<&str> = out.lines().collect();
    assert!(names.contains(&"deployments.apps"), "{out}");
    assert!(names.contains(&"replicasets.apps"), "{out}");
    assert!(names.iter().all(|n| n.ends_with(".apps")), "{out}");
    let out = c.ok(&["api-resources", "--namespaced=false", "-o", "name"]);
    assert!(out.lines().any(|n| n == "namespaces"), "{out}");
    assert!(!out.lines().any(|n| n == "pods"), "{out}");
}

#[test]
fn api_versions_include_core_and_apps() {
    let c = Cluster::start();
    let out = c.ok(&["api-versions"]);
    let versions: Vec<&str> = out.lines().collect();
    for v in ["v1", "apps/v1"] {
        assert!(versions.contains(&v), "{v} missing from\n{out}");
    }
}

#[test]
fn explain_deployment_spec() {
    let c = Cluster::start();
    let out = c.ok(&["explain", "deployment.spec"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "GROUP:      apps", "{out}");
    assert_eq!(lines[1], "KIND:       Deployment", "{out}");
    assert_eq!(lines[2], "VERSION:    v1", "{out}");
    assert!(out.contains("FIELD: spec <DeploymentSpec>"), "{out}");
    assert!(
        lines.iter().any(|l| l.starts_with("  replicas\t<integer>")),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("  template\t<PodTemplateSpec> -required-")),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("  selector\t<LabelSelector> -required-")),
        "{out}"
    );

    let out = c.ok(&["explain", "pods.spec.containers.image"]);
    assert!(out.contains("FIELD: image <string>"), "{out}");
}

#[test]
fn get_all_shows_each_kind_with_its_prefix() {
    let c = Cluster::start();
    c.ok(&["run", "p1", "--image=nginx"]);
    c.ok(&["create", "deployment", "web", "--image=nginx"]);
    let out = c.ok(&["get", "all"]);
    // One table per kind, separated by blank lines, names prefixed with the kind.
    let sections: Vec<&str> = out.split("\n\n").collect();
    assert!(sections.len() >= 3, "{out}");
    let section = |prefix: &str| {
        sections
            .iter()
            .find(|s| s.lines().nth(1).is_some_and(|l| l.starts_with(prefix)))
            .map(|s| table(s))
            .unwrap_or_else(|| panic!("no {prefix} section in\n{out}"))
    };
    let pods = section("pod/");
    assert_eq!(
        pods[0],
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{out}"
    );
    let p1 = pods.iter().find(|r| r[0] == "pod/p1").expect("pod/p1");
    assert_eq!(p1[1..4], ["0/1", "Pending", "0"], "{out}");
    let services = section("service/");
    assert_eq!(
        services[0],
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ],
        "{out}"
    );
    assert_eq!(
        services[1][..5],
        [
            "service/kubernetes",
            "ClusterIP",
            "10.43.0.1",
            "<none>",
            "443/TCP"
        ],
        "{out}"
    );
    let deployments = section("deployment.apps/");
    assert_eq!(
        deployments[0],
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "{out}"
    );
    assert_eq!(deployments[1][0], "deployment.apps/web", "{out}");
    // The sections come in the order of the `all` category.
    let at = |s: &str| out.find(s).unwrap_or_else(|| panic!("no {s} in\n{out}"));
    assert!(at("pod/p1") < at("service/kubernetes"), "{out}");
    assert!(
        at("service/kubernetes") < at("deployment.apps/web"),
        "{out}"
    );
}
