//! A fresh cluster as kubectl sees it: cluster-info, nodes, namespaces, output formats.

use krust_e2e::{Cluster, is_age, table};

#[test]
fn cluster_info_names_the_control_plane() {
    let c = Cluster::start();
    let out = c.ok(&["cluster-info"]);
    let first = out.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!("Kubernetes control plane is running at {}", c.url()),
        "{out}"
    );
    assert!(
        out.contains(
            "To further debug and diagnose cluster problems, use 'kubectl cluster-info dump'."
        ),
        "{out}"
    );
}

#[test]
fn version_reports_server_1_32() {
    let c = Cluster::start();
    let out = c.ok(&["version", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["serverVersion"]["major"], "1", "{out}");
    assert_eq!(v["serverVersion"]["minor"], "32", "{out}");
    // The dispatcher picks the client from the server's minor: 1.32 keeps the built-in v1.32.4.
    let client = v["clientVersion"]["gitVersion"]
        .as_str()
        .unwrap_or_default();
    assert!(client.starts_with("v1.32.4"), "{out}");
}

#[test]
fn get_nodes_prints_no_resources_on_stderr() {
    let c = Cluster::start();
    let out = c.kubectl(&["get", "nodes"]);
    assert!(out.success(), "{out:?}");
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr.trim_end(), "No resources found");
}

#[test]
fn get_namespaces_lists_the_four_system_namespaces() {
    let c = Cluster::start();
    let out = c.ok(&["get", "namespace"]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("NAME              STATUS   AGE"),
        "{out}"
    );
    let rows = table(&out);
    let names: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        names,
        ["default", "kube-node-lease", "kube-public", "kube-system"],
        "{out}"
    );
    for row in &rows[1..] {
        assert_eq!(row[1], "Active", "{out}");
        assert!(is_age(&row[2]), "{out}");
    }
    // Short name, and the single-object form.
    let out = c.ok(&["get", "ns", "kube-system"]);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(
        out.lines()
            .nth(1)
            .unwrap()
            .starts_with("kube-system   Active   "),
        "{out}"
    );
}

#[test]
fn get_namespace_default_as_yaml() {
    let c = Cluster::start();
    let out = c.ok(&["get", "ns", "default", "-o", "yaml"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "apiVersion: v1", "{out}");
    assert_eq!(lines[1], "kind: Namespace", "{out}");
    for expected in [
        "metadata:",
        "  creationTimestamp: ",
        "  labels:",
        "    kubernetes.io/metadata.name: default",
        "  name: default",
        "  resourceVersion: ",
        "  uid: ",
        "spec:",
        "  finalizers:",
        "  - kubernetes",
        "status:",
        "  phase: Active",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(expected)),
            "no line {expected:?} in\n{out}"
        );
    }
}

#[test]
fn get_pods_all_namespaces_on_an_empty_cluster() {
    let c = Cluster::start();
    let out = c.kubectl(&["get", "pods", "-A"]);
    assert!(out.success(), "{out:?}");
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr.trim_end(), "No resources found");
    let out = c.kubectl(&["get", "pods"]);
    assert!(out.success(), "{out:?}");
    assert_eq!(
        out.stderr.trim_end(),
        "No resources found in default namespace."
    );
}

#[test]
fn get_pods_all_namespaces_shows_the_namespace_column() {
    let c = Cluster::start();
    c.ok(&["run", "web", "--image=nginx"]);
    c.ok(&["run", "sys", "--image=busybox", "-n", "kube-system"]);
    let out = c.ok(&["get", "pods", "-A"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], "NAMESPACE     NAME   READY   STATUS    RESTARTS   AGE",
        "{out}"
    );
    let rows = table(&out);
    assert_eq!(rows.len(), 3, "{out}");
    assert_eq!(
        rows[1][..5],
        ["default", "web", "0/1", "Pending", "0"],
        "{out}"
    );
    assert_eq!(
        rows[2][..5],
        ["kube-system", "sys", "0/1", "Pending", "0"],
        "{out}"
    );
    // Without -A, only the context's namespace.
    let rows = table(&c.ok(&["get", "pods"]));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1][0], "web");
}

#[test]
fn wide_output_adds_the_priority_one_columns() {
    let c = Cluster::start();
    c.ok(&["run", "nginx", "--image=nginx"]);
    let out = c.ok(&["get", "pods", "-o", "wide"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "NAME    READY   STATUS    RESTARTS   AGE   IP       NODE     NOMINATED NODE   READINESS GATES",
        "{out}"
    );
    let row = table(&out)[1].clone();
    assert_eq!(row[..4], ["nginx", "0/1", "Pending", "0"], "{out}");
    assert_eq!(row[5..], ["<none>", "<none>", "<none>", "<none>"], "{out}");

    let out = c.ok(&["get", "svc", "-o", "wide"]);
    assert_eq!(
        out.lines().next(),
        Some("NAME         TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)   AGE   SELECTOR"),
        "{out}"
    );
    let row = table(&out)[1].clone();
    assert_eq!(
        row[..5],
        ["kubernetes", "ClusterIP", "10.43.0.1", "<none>", "443/TCP"],
        "{out}"
    );
    assert_eq!(row[6], "<none>", "{out}");

    let out = c.ok(&["get", "ns", "-o", "wide"]);
    assert_eq!(
        out.lines().next(),
        Some("NAME              STATUS   AGE"),
        "{out}"
    );
}

#[test]
fn json_output_carries_kind_and_api_version() {
    let c = Cluster::start();
    c.ok(&["run", "nginx", "--image=nginx"]);
    let list = c.get_json(&["pods"]);
    assert_eq!(list["kind"], "List");
    assert_eq!(list["apiVersion"], "v1");
    assert_eq!(list["items"][0]["kind"], "Pod");
    assert_eq!(list["items"][0]["apiVersion"], "v1");
    assert_eq!(list["items"][0]["metadata"]["name"], "nginx");

    let pod = c.get_json(&["pod", "nginx"]);
    assert_eq!(pod["kind"], "Pod");
    assert_eq!(pod["apiVersion"], "v1");
    assert_eq!(pod["metadata"]["namespace"], "default");
    assert!(
        pod["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| u.len() == 36),
        "{pod}"
    );

    let ns = c.get_json(&["ns", "default"]);
    assert_eq!(ns["kind"], "Namespace");
    assert_eq!(ns["apiVersion"], "v1");

    let svc = c.get_json(&["svc", "kubernetes"]);
    assert_eq!(svc["kind"], "Service");
    assert_eq!(svc["spec"]["clusterIP"], "10.43.0.1");
    assert_eq!(svc["spec"]["ports"][0]["port"], 443);
}
