//! Namespaces: create, use, delete.

use krust_e2e::{Cluster, table};

#[test]
fn create_and_use_a_namespace() {
    let c = Cluster::start();
    assert_eq!(
        c.ok(&["create", "namespace", "team-a"]),
        "namespace/team-a created\n"
    );
    let row = &table(&c.ok(&["get", "ns", "team-a"]))[1];
    assert_eq!(row[..2], ["team-a", "Active"]);
    assert_eq!(
        c.jsonpath(
            &["ns", "team-a"],
            "{.metadata.labels.kubernetes\\.io/metadata\\.name}"
        ),
        "team-a"
    );
    assert_eq!(
        c.ok(&["run", "web", "--image=nginx", "-n", "team-a"]),
        "pod/web created\n"
    );
    let rows = table(&c.ok(&["get", "pods", "-n", "team-a"]));
    assert_eq!(rows[1][0], "web");
    let out = c.kubectl(&["get", "pods"]);
    assert_eq!(
        out.stderr.trim_end(),
        "No resources found in default namespace."
    );
    let err = c.fails(&["create", "namespace", "team-a"]);
    assert_eq!(
        err.trim_end(),
        "Error from server (AlreadyExists): namespaces \"team-a\" already exists"
    );
}

#[test]
fn delete_namespace_finishes_and_removes_its_contents() {
    // The namespace controller empties it: a whole control plane, no nodes needed.
    let c = Cluster::start_with(&[]);
    c.ok(&["create", "namespace", "team-a"]);
    c.ok(&["run", "web", "--image=nginx", "-n", "team-a"]);
    c.ok(&["create", "configmap", "settings", "-n", "team-a"]);
    // kubectl waits until the namespace is gone.
    let out = c.kubectl(&["delete", "namespace", "team-a", "--timeout=15s"]);
    assert!(out.success(), "{out:?}");
    assert_eq!(out.stdout, "namespace \"team-a\" deleted\n");
    let err = c.fails(&["get", "ns", "team-a"]);
    assert_eq!(
        err.trim_end(),
        "Error from server (NotFound): namespaces \"team-a\" not found"
    );
    let out = c.kubectl(&["get", "all,configmaps", "-n", "team-a"]);
    assert_eq!(out.stdout, "");
}

#[test]
fn system_namespaces_cannot_be_deleted() {
    let c = Cluster::start();
    for ns in ["default", "kube-system", "kube-public"] {
        let err = c.fails(&["delete", "namespace", ns, "--wait=false"]);
        assert_eq!(
            err.trim_end(),
            format!(
                "Error from server (Forbidden): namespaces \"{ns}\" is forbidden: this namespace may not be deleted"
            ),
        );
    }
    assert_eq!(c.jsonpath(&["ns", "default"], "{.status.phase}"), "Active");
}
