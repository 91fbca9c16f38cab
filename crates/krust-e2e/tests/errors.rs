//! Bad input gets Kubernetes' error messages, and leaves the stored objects alone.

use krust_e2e::Cluster;

#[test]
fn invalid_pod_name_is_unprocessable() {
    let c = Cluster::start();
    let err = c.fails(&["run", "Bad_Name", "--image=x"]);
    let lines: Vec<&str> = err.lines().collect();
    // kubectl run names the container after the pod, so both names are invalid.
    assert_eq!(
        lines,
        [
            "The Pod \"Bad_Name\" is invalid: ",
            "* metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            "* spec.containers[0].name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        ],
        "{err}"
    );
    let out = c.kubectl(&["get", "pods"]);
    assert_eq!(
        out.stderr.trim_end(),
        "No resources found in default namespace."
    );
}

#[test]
fn invalid_name_in_a_manifest_is_unprocessable() {
    let c = Cluster::start();
    let file = c.write_file(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not.Valid\ndata:\n  a: b\n",
    );
    let err = c.fails(&["create", "-f", file.to_str().unwrap()]);
    assert!(
        err.starts_with("The ConfigMap \"Not.Valid\" is invalid: metadata.name: Invalid value: \"Not.Valid\": a lowercase RFC 1123 subdomain must consist of"),
        "{err}"
    );
}

#[test]
fn unknown_field_is_a_strict_decoding_error() {
    let c = Cluster::start();
    let manifest = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: typo
spec:
  replicaz: 2
  selector:
    matchLabels:
      app: typo
  template:
    metadata:
      labels:
        app: typo
    spec:
      containers:
      - name: nginx
        image: nginx
";
    let file = c.write_file("typo.yaml", manifest);
    let file = file.to_str().unwrap();
    let err = c.fails(&["apply", "-f", file]);
    assert_eq!(
        err.trim_end(),
        format!(
            "Error from server (BadRequest): error when creating \"{file}\": Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.replicaz\""
        )
    );
    let err = c.fails(&["get", "deploy", "typo"]);
    assert_eq!(
        err.trim_end(),
        "Error from server (NotFound): deployments.apps \"typo\" not found"
    );

    // With validation off, kubectl asks the server to drop the field (fieldValidation=Ignore).
    assert_eq!(
        c.ok(&["apply", "--validate=false", "-f", file]),
        "deployment.apps/typo created\n"
    );
    assert_eq!(c.jsonpath(&["deploy", "typo"], "{.spec.replicas}"), "1");
}

#[test]
fn malformed_yaml_fails_in_kubectl_and_changes_nothing() {
    let c = Cluster::start();
    let good =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n";
    let file = c.write_file("settings.yaml", good);
    let file = file.to_str().unwrap();
    c.ok(&["apply", "-f", file]);
    let before = c.get_json(&["cm", "settings"]);

    // `data` indented under `metadata` by one space too few.
    c.write_file(
        "settings.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n data:\n  mode: slow\n",
    );
    let err = c.fails(&["apply", "-f", file]);
    assert_eq!(
        err.trim_end(),
        format!(
            "error: error parsing {file}: error converting YAML to JSON: yaml: line 4: did not find expected key"
        )
    );
    let after = c.get_json(&["cm", "settings"]);
    assert_eq!(after["data"]["mode"], "fast");
    assert_eq!(
        after["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );
}

#[test]
fn malformed_json_body_is_a_bad_request() {
    let c = Cluster::start();
    let file = c.write_file(
        "bad.json",
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":",
    );
    let err = c.fails(&[
        "create",
        "--raw",
        "/api/v1/namespaces/default/configmaps",
        "-f",
        file.to_str().unwrap(),
    ]);
    // A 400 Status; the message quotes the JSON parser.
    assert!(err.starts_with("Error from server (BadRequest): "), "{err}");
    assert!(err.contains("json parse error"), "{err}");
    let out = c.kubectl(&["get", "configmaps"]);
    assert_eq!(
        out.stderr.trim_end(),
        "No resources found in default namespace."
    );
}

#[test]
fn four_mebibyte_body_is_too_large() {
    let c = Cluster::start();
    let value = "x".repeat(4 * 1024 * 1024);
    let body = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": {"a": value},
    });
    let file = c.write_file("big.json", body.to_string());
    let err = c.fails(&[
        "create",
        "--raw",
        "/api/v1/namespaces/default/configmaps",
        "-f",
        file.to_str().unwrap(),
    ]);
    assert_eq!(
        err.trim_end(),
        "Error from server (RequestEntityTooLarge): Request entity too large: limit is 3145728"
    );
    let err = c.fails(&["get", "cm", "big"]);
    assert_eq!(
        err.trim_end(),
        "Error from server (NotFound): configmaps \"big\" not found"
    );
}

#[test]
fn running_a_pod_twice_is_already_exists() {
    let c = Cluster::start();
    c.ok(&["run", "nginx", "--image=nginx"]);
    let uid = c.jsonpath(&["pod", "nginx"], "{.metadata.uid}");
    let err = c.fails(&["run", "nginx", "--image=nginx"]);
    assert_eq!(
        err.trim_end(),
        "Error from server (AlreadyExists): pods \"nginx\" already exists"
    );
    // The first pod is untouched.
    assert_eq!(c.jsonpath(&["pod", "nginx"], "{.metadata.uid}"), uid);
}

#[test]
fn stale_replace_is_a_conflict() {
    let c = Cluster::start();
    c.ok(&[
        "create",
        "configmap",
        "settings",
        "--from-literal=mode=fast",
    ]);
    let stale = c.ok(&["get", "cm", "settings", "-o", "yaml"]);
    let stale_file = c.write_file("stale.yaml", stale.replace("mode: fast", "mode: stale"));
    c.ok(&["label", "cm", "settings", "touched=yes"]);
    let err = c.fails(&["replace", "-f", stale_file.to_str().unwrap()]);
    assert_eq!(
        err.trim_end(),
        format!(
            "Error from server (Conflict): error when replacing \"{}\": Operation cannot be fulfilled on configmaps \"settings\": the object has been modified; please apply your changes to the latest version and try again",
            stale_file.display()
        )
    );
    assert_eq!(c.jsonpath(&["cm", "settings"], "{.data.mode}"), "fast");
}

#[test]
fn get_unknown_resource_type() {
    let c = Cluster::start();
    let err = c.fails(&["get", "widgets"]);
    assert_eq!(
        err.trim_end(),
        "error: the server doesn't have a resource type \"widgets\""
    );
}
