//! Pods: run, get, describe, label, annotate, delete.

use krust_e2e::{Cluster, describe_field, is_age, table};

#[test]
fn run_creates_a_pending_pod() {
    let c = Cluster::start();
    assert_eq!(
        c.ok(&["run", "nginx", "--image=nginx"]),
        "pod/nginx created\n"
    );
    let out = c.ok(&["get", "pods"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0], "NAME    READY   STATUS    RESTARTS   AGE");
    assert!(
        lines[1].starts_with("nginx   0/1     Pending   0          "),
        "{out}"
    );
    assert!(is_age(lines[1].rsplit(' ').next().unwrap()), "{out}");

    // The single-object form prints the same table.
    let out = c.ok(&["get", "pod", "nginx"]);
    assert_eq!(
        out.lines().next(),
        Some("NAME    READY   STATUS    RESTARTS   AGE")
    );

    // What kubectl run sent, with the server's defaults.
    let pod = c.get_json(&["pod", "nginx"]);
    assert_eq!(pod["metadata"]["labels"]["run"], "nginx", "{pod}");
    assert_eq!(pod["spec"]["containers"][0]["name"], "nginx", "{pod}");
    assert_eq!(pod["spec"]["containers"][0]["image"], "nginx", "{pod}");
    assert_eq!(pod["spec"]["restartPolicy"], "Always", "{pod}");
    assert_eq!(pod["status"]["phase"], "Pending", "{pod}");
    assert_eq!(pod["status"]["qosClass"], "BestEffort", "{pod}");
}

#[test]
fn describe_pod_shows_the_pending_pod() {
    let c = Cluster::start();
    c.ok(&["run", "nginx", "--image=nginx"]);
    let out = c.ok(&["describe", "pod", "nginx"]);
    assert_eq!(describe_field(&out, "Name"), Some("nginx"), "{out}");
    assert_eq!(describe_field(&out, "Namespace"), Some("default"), "{out}");
    assert_eq!(describe_field(&out, "Status"), Some("Pending"), "{out}");
    assert_eq!(describe_field(&out, "Labels"), Some("run=nginx"), "{out}");
    assert_eq!(describe_field(&out, "Node"), Some("<none>"), "{out}");
    assert_eq!(
        describe_field(&out, "QoS Class"),
        Some("BestEffort"),
        "{out}"
    );
    assert_eq!(
        describe_field(&out, "Service Account"),
        Some("default"),
        "{out}"
    );
    // The DefaultTolerationSeconds admission plugin's tolerations.
    assert!(
        out.contains(
            "Tolerations:      node.kubernetes.io/not-ready:NoExecute op=Exists for 300s\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "                  node.kubernetes.io/unreachable:NoExecute op=Exists for 300s\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("Containers:\n  nginx:\n    Image:        nginx\n"),
        "{out}"
    );
    assert!(out.lines().any(|l| l.starts_with("Events:")), "{out}");
}

#[test]
fn label_and_annotate_a_pod() {
    let c = Cluster::start();
    c.ok(&["run", "nginx", "--image=nginx"]);
    assert_eq!(
        c.ok(&["label", "pod", "nginx", "env=test"]),
        "pod/nginx labeled\n"
    );
    assert_eq!(
        c.ok(&["annotate", "pod", "nginx", "owner=team-a"]),
        "pod/nginx annotated\n"
    );

    let out = c.ok(&["get", "pods", "--show-labels"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], "NAME    READY   STATUS    RESTARTS   AGE   LABELS",
        "{out}"
    );
    assert_eq!(
        table(&out)[1].last().map(String::as_str),
        Some("env=test,run=nginx"),
        "{out}"
    );

    assert_eq!(
        c.jsonpath(&["pod", "nginx"], "{.metadata.annotations.owner}"),
        "team-a"
    );
    let described = c.ok(&["describe", "pod", "nginx"]);
    assert_eq!(
        describe_field(&described, "Annotations"),
        Some("owner: team-a"),
        "{described}"
    );

    // Selecting by the new label.
    let rows = table(&c.ok(&["get", "pods", "-l", "env=test"]));
    assert_eq!(rows.len(), 2);
    let out = c.kubectl(&["get", "pods", "-l", "env=prod"]);
    assert!(out.success());
    assert_eq!(
        out.stderr.trim_end(),
        "No resources found in default namespace."
    );

    // An existing label is not overwritten without --overwrite (checked by kubectl)...
    let err = c.fails(&["label", "pod", "nginx", "env=prod"]);
    assert_eq!(
        err.trim_end(),
        "error: 'env' already has a value (test), and --overwrite is false"
    );
    // ... but is with it; `key-` removes it.
    assert_eq!(
        c.ok(&["label", "pod", "nginx", "env=prod", "--overwrite"]),
        "pod/nginx labeled\n"
    );
    assert_eq!(
        c.jsonpath(&["pod", "nginx"], "{.metadata.labels.env}"),
        "prod"
    );
    assert_eq!(
        c.ok(&["label", "pod", "nginx", "env-"]),
        "pod/nginx unlabeled\n"
    );
    assert_eq!(
        c.jsonpath(&["pod", "nginx"], "{.metadata.labels}"),
        r#"{"run":"nginx"}"#
    );
    assert_eq!(
        c.ok(&["annotate", "pod", "nginx", "owner-"]),
        "pod/nginx annotated\n"
    );
    assert_eq!(
        c.jsonpath(&["pod", "nginx"], "{.metadata.annotations.owner}"),
        ""
    );
}

#[test]
fn delete_pod_then_get_is_not_found() {
    let c = Cluster::start();
    c.ok(&["run", "nginx", "--image=nginx"]);
    assert_eq!(c.ok(&["delete", "pod", "nginx"]), "pod \"nginx\" deleted\n");
    let err = c.fails(&["get", "pod", "nginx"]);
    assert_eq!(
        err.trim_end(),
        "Error from server (NotFound): pods \"nginx\" not found"
    );
    let err = c.fails(&["delete", "pod", "nginx"]);
    assert_eq!(
        err.trim_end(),
        "Error from server (NotFound): pods \"nginx\" not found"
    );
    let err = c.fails(&["describe", "pod", "nginx"]);
    assert_eq!(
        err.trim_end(),
        "Error from server (NotFound): pods \"nginx\" not found"
    );
    // The name is free again.
    assert_eq!(
        c.ok(&["run", "nginx", "--image=nginx"]),
        "pod/nginx created\n"
    );
}

#[test]
fn server_dry_run_stores_nothing() {
    let c = Cluster::start();
    assert_eq!(
        c.ok(&[
            "run",
            "dry",
            "--image=nginx",
            "--dry-run=server",
            "-o",
            "name"
        ]),
        "pod/dry\n"
    );
    let err = c.fails(&["get", "pod", "dry"]);
    assert_eq!(
        err.trim_end(),
        "Error from server (NotFound): pods \"dry\" not found"
    );
}

#[test]
fn pods_in_a_missing_namespace_are_refused() {
    let c = Cluster::start();
    let err = c.fails(&["run", "x", "--image=nginx", "-n", "nope"]);
    assert_eq!(
        err.trim_end(),
        "Error from server (NotFound): namespaces \"nope\" not found"
    );
    let out = c.kubectl(&["get", "pods", "-n", "nope"]);
    assert!(out.success());
    assert_eq!(
        out.stderr.trim_end(),
        "No resources found in nope namespace."
    );
}
