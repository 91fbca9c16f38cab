//! Objects read back as the Kubernetes API server serialises them, and no-op writes.

use krust_e2e::Cluster;

#[test]
fn a_no_op_patch_changes_nothing() {
    let c = Cluster::start();
    c.ok(&["run", "nginx", "--image=nginx"]);
    let rv = c.jsonpath(&["pod", "nginx"], "{.metadata.resourceVersion}");
    assert_eq!(
        c.ok(&[
            "patch",
            "pod",
            "nginx",
            "-p",
            r#"{"metadata":{"labels":{"run":"nginx"}}}"#
        ]),
        "pod/nginx patched (no change)\n"
    );
    assert_eq!(
        c.ok(&["label", "pod", "nginx", "run=nginx", "--overwrite"]),
        "pod/nginx not labeled\n"
    );
    assert_eq!(
        c.jsonpath(&["pod", "nginx"], "{.metadata.resourceVersion}"),
        rv
    );
    assert_eq!(
        c.ok(&[
            "patch",
            "pod",
            "nginx",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/metadata/labels/x","value":"y"}]"#
        ]),
        "pod/nginx patched\n"
    );
    assert_ne!(
        c.jsonpath(&["pod", "nginx"], "{.metadata.resourceVersion}"),
        rv
    );
}

/// Go's `omitempty` drops empty maps: a real API server never returns `labels: {}`,
/// `annotations: {}` or a ConfigMap's `data: {}`.
#[test]
fn empty_maps_are_not_returned() {
    let c = Cluster::start();
    let file = c.write_file(
        "empty.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: empty\n  labels: {}\n  annotations: {}\ndata: {}\n",
    );
    c.ok(&["create", "-f", file.to_str().unwrap()]);
    let cm = c.get_json(&["cm", "empty"]);
    assert!(cm["metadata"].get("labels").is_none(), "{cm}");
    assert!(cm["metadata"].get("annotations").is_none(), "{cm}");
    assert!(cm.get("data").is_none(), "{cm}");

    // Setting an empty map on an object without one is therefore no change at all.
    c.ok(&["run", "nginx", "--image=nginx"]);
    assert_eq!(
        c.ok(&[
            "patch",
            "pod",
            "nginx",
            "--type=merge",
            "-p",
            r#"{"metadata":{"annotations":{}}}"#
        ]),
        "pod/nginx patched (no change)\n"
    );
    let pod = c.get_json(&["pod", "nginx"]);
    assert!(pod["metadata"].get("annotations").is_none(), "{pod}");
}

#[test]
fn secrets_are_stored_base64_encoded() {
    let c = Cluster::start();
    assert_eq!(
        c.ok(&[
            "create",
            "secret",
            "generic",
            "db",
            "--from-literal=password=hunter2"
        ]),
        "secret/db created\n"
    );
    assert_eq!(
        c.jsonpath(&["secret", "db"], "{.data.password}"),
        "aHVudGVyMg=="
    );
    assert_eq!(c.jsonpath(&["secret", "db"], "{.type}"), "Opaque");
    let out = c.ok(&["get", "secrets"]);
    assert_eq!(
        out.lines().next(),
        Some("NAME   TYPE     DATA   AGE"),
        "{out}"
    );
    assert!(
        out.lines()
            .nth(1)
            .unwrap()
            .starts_with("db     Opaque   1      "),
        "{out}"
    );
}

#[test]
fn listing_in_chunks_returns_everything() {
    let c = Cluster::start();
    for name in ["a", "b", "c", "d", "e"] {
        c.ok(&["create", "configmap", name]);
    }
    let out = c.ok(&["get", "configmaps", "--chunk-size=2", "-o", "name"]);
    // kube-root-ca.crt is published into every namespace by a controller, once there is one.
    let names: Vec<&str> = out
        .lines()
        .filter(|l| *l != "configmap/kube-root-ca.crt")
        .collect();
    assert_eq!(
        names,
        [
            "configmap/a",
            "configmap/b",
            "configmap/c",
            "configmap/d",
            "configmap/e"
        ]
    );
}
