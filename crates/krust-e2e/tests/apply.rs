//! `kubectl apply`: client-side (three-way strategic merge) and server-side.

use krust_e2e::Cluster;

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn manifest(name: &str, replicas: u32, image: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    app: nginx
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: {image}
        ports:
        - containerPort: 80
"
    )
}

#[test]
fn apply_creates_then_configures() {
    let c = Cluster::start();
    let file = c.write_file(
        "deployment.yaml",
        manifest("nginx-deployment", 1, "nginx:1.16"),
    );
    let file = file.to_str().unwrap();
    assert_eq!(
        c.ok(&["apply", "-f", file]),
        "deployment.apps/nginx-deployment created\n"
    );

    let d = c.get_json(&["deployment", "nginx-deployment"]);
    assert_eq!(d["spec"]["replicas"], 1);
    let last = d["metadata"]["annotations"][LAST_APPLIED]
        .as_str()
        .expect("last-applied annotation");
    let last: serde_json::Value = serde_json::from_str(last).expect("last-applied is JSON");
    assert_eq!(
        last["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.16",
        "{last}"
    );
    let uid = d["metadata"]["uid"].clone();

    // A change made outside the file survives the next apply (three-way merge).
    c.ok(&["label", "deployment", "nginx-deployment", "extra=kept"]);

    c.write_file(
        "deployment.yaml",
        manifest("nginx-deployment", 2, "nginx:1.20"),
    );
    assert_eq!(
        c.ok(&["apply", "-f", file]),
        "deployment.apps/nginx-deployment configured\n"
    );

    let d = c.get_json(&["deployment", "nginx-deployment"]);
    assert_eq!(d["metadata"]["uid"], uid, "apply must patch, not re-create");
    assert_eq!(d["spec"]["replicas"], 2, "{d}");
    let container = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["name"], "nginx", "{d}");
    assert_eq!(container["image"], "nginx:1.20", "{d}");
    assert_eq!(
        container["ports"][0]["containerPort"], 80,
        "ports kept: {d}"
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{d}"
    );
    assert_eq!(d["metadata"]["labels"]["extra"], "kept", "{d}");
    assert_eq!(d["metadata"]["labels"]["app"], "nginx", "{d}");
    assert!(d["metadata"]["generation"].as_i64() >= Some(2), "{d}");
    let last = d["metadata"]["annotations"][LAST_APPLIED]
        .as_str()
        .expect("last-applied annotation");
    let last: serde_json::Value = serde_json::from_str(last).expect("last-applied is JSON");
    assert_eq!(last["spec"]["replicas"], 2, "{last}");
    assert_eq!(
        last["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.20",
        "{last}"
    );

    // Nothing changed: nothing to do.
    assert_eq!(
        c.ok(&["apply", "-f", file]),
        "deployment.apps/nginx-deployment unchanged\n"
    );

    // A field dropped from the file is removed from the object.
    let without_ports = manifest("nginx-deployment", 2, "nginx:1.20")
        .replace("        ports:\n        - containerPort: 80\n", "");
    c.write_file("deployment.yaml", without_ports);
    assert_eq!(
        c.ok(&["apply", "-f", file]),
        "deployment.apps/nginx-deployment configured\n"
    );
    assert_eq!(
        c.jsonpath(
            &["deployment", "nginx-deployment"],
            "{.spec.template.spec.containers[0].ports}"
        ),
        ""
    );
}

#[test]
fn apply_a_configmap_and_delete_it_by_file() {
    let c = Cluster::start();
    let file = c.write_file(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n",
    );
    let file = file.to_str().unwrap();
    assert_eq!(c.ok(&["apply", "-f", file]), "configmap/settings created\n");
    assert_eq!(c.jsonpath(&["cm", "settings"], "{.data.mode}"), "fast");
    assert_eq!(
        c.ok(&["delete", "-f", file]),
        "configmap \"settings\" deleted\n"
    );
    let err = c.fails(&["get", "cm", "settings"]);
    assert_eq!(
        err.trim_end(),
        "Error from server (NotFound): configmaps \"settings\" not found"
    );
}

#[test]
fn apply_server_side_creates_then_updates() {
    let c = Cluster::start();
    let file = c.write_file("ssa.yaml", manifest("ssa-depl", 1, "nginx:1.16"));
    let file = file.to_str().unwrap();
    assert_eq!(
        c.ok(&["apply", "--server-side", "-f", file]),
        "deployment.apps/ssa-depl serverside-applied\n"
    );
    let d = c.get_json(&["deployment", "ssa-depl", "--show-managed-fields"]);
    assert_eq!(d["spec"]["replicas"], 1, "{d}");
    let managers = d["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        managers
            .iter()
            .any(|m| m["manager"] == "kubectl" && m["operation"] == "Apply"),
        "no Apply entry of manager kubectl: {d}"
    );
    // Server-side apply does not write the client-side annotation.
    assert!(d["metadata"]["annotations"][LAST_APPLIED].is_null(), "{d}");

    c.write_file("ssa.yaml", manifest("ssa-depl", 3, "nginx:1.20"));
    assert_eq!(
        c.ok(&["apply", "--server-side", "-f", file]),
        "deployment.apps/ssa-depl serverside-applied\n"
    );
    let d = c.get_json(&["deployment", "ssa-depl"]);
    assert_eq!(d["spec"]["replicas"], 3, "{d}");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.20",
        "{d}"
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"], 80,
        "{d}"
    );

    // Another manager setting a field kubectl owns is a conflict, unless it forces.
    let other = c.write_file(
        "other.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ssa-depl\nspec:\n  replicas: 7\n",
    );
    let other = other.to_str().unwrap();
    let err = c.fails(&[
        "apply",
        "--server-side",
        "--field-manager=other",
        "-f",
        other,
    ]);
    assert!(
        err.contains("Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"),
        "{err}"
    );
    assert_eq!(
        c.jsonpath(&["deployment", "ssa-depl"], "{.spec.replicas}"),
        "3"
    );
    assert_eq!(
        c.ok(&[
            "apply",
            "--server-side",
            "--field-manager=other",
            "--force-conflicts",
            "-f",
            other
        ]),
        "deployment.apps/ssa-depl serverside-applied\n"
    );
    assert_eq!(
        c.jsonpath(&["deployment", "ssa-depl"], "{.spec.replicas}"),
        "7"
    );
    assert_eq!(
        c.jsonpath(
            &["deployment", "ssa-depl"],
            "{.spec.template.spec.containers[0].image}"
        ),
        "nginx:1.20"
    );
}
