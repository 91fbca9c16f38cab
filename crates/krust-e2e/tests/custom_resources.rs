//! CustomResourceDefinitions with the real kubectl: the Kubernetes documentation's CronTab
//! (printer columns, a validated schema with a default, status and scale subresources, a
//! short name and the `all` category), another definition served at two versions, and a
//! definition whose names are taken.

use krust_e2e::Cluster;

const CRONTABS: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: crontabs
    kind: CronTab
    shortNames: [ct]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              cronSpec:
                type: string
                pattern: '^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$'
              image:
                type: string
              replicas:
                type: integer
                minimum: 1
                maximum: 10
                default: 1
          status:
            type: object
            properties:
              replicas: {type: integer}
              selector: {type: string}
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
        labelSelectorPath: .status.selector
    additionalPrinterColumns:
    - {name: Spec, type: string, jsonPath: .spec.cronSpec}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
"#;

fn crontab(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n  name: {name}\nspec:\n{spec}"
    )
}

/// A cluster serving the CronTab definition, established.
fn with_crontabs() -> Cluster {
    let c = Cluster::start();
    let crd = c.write_file("crontabs.yaml", CRONTABS);
    assert_eq!(
        c.ok(&["apply", "-f", crd.to_str().unwrap()]),
        "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com created\n"
    );
    c.ok(&[
        "wait",
        "--for",
        "condition=established",
        "crd/crontabs.stable.example.com",
        "--timeout=10s",
    ]);
    c
}

fn apply(c: &Cluster, name: &str, manifest: &str) -> String {
    let file = c.write_file(name, manifest);
    c.ok(&["apply", "-f", file.to_str().unwrap()])
}

#[test]
fn a_crontab_is_created_printed_by_its_columns_and_defaulted() {
    let c = with_crontabs();
    let out = apply(
        &c,
        "cron.yaml",
        &crontab(
            "my-new-cron-object",
            "  cronSpec: '* * * * */5'\n  image: my-awesome-cron-image\n",
        ),
    );
    assert_eq!(
        out,
        "crontab.stable.example.com/my-new-cron-object created\n"
    );
    let table = c.ok(&["get", "crontab"]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "SPEC", "REPLICAS", "AGE"], "{table}");
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        row[..7],
        ["my-new-cron-object", "*", "*", "*", "*", "*/5", "1"],
        "{table}"
    );
    // By short name and category, and with the default from the schema stored.
    assert!(c.ok(&["get", "ct"]).contains("my-new-cron-object"));
    assert!(
        c.ok(&["get", "all"])
            .contains("crontab.stable.example.com/my-new-cron-object")
    );
    let obj = c.get_json(&["ct", "my-new-cron-object"]);
    assert_eq!(obj["spec"]["replicas"], 1, "{obj}");
    assert_eq!(obj["metadata"]["generation"], 1, "{obj}");
    // Applied again with a change: a merge patch (kubectl finds no strategic merge patch in
    // the OpenAPI document of a custom resource).
    let out = apply(
        &c,
        "cron.yaml",
        &crontab(
            "my-new-cron-object",
            "  cronSpec: '* * * * */5'\n  image: my-awesome-cron-image:2\n",
        ),
    );
    assert_eq!(
        out,
        "crontab.stable.example.com/my-new-cron-object configured\n"
    );
    let obj = c.get_json(&["ct", "my-new-cron-object"]);
    assert_eq!(obj["spec"]["image"], "my-awesome-cron-image:2");
    assert_eq!(obj["metadata"]["generation"], 2, "{obj}");
    let explained = c.ok(&["explain", "crontab.spec"]);
    assert!(explained.contains("cronSpec\t<string>"), "{explained}");
}

#[test]
fn a_crontab_against_its_schema_gets_kubernetes_errors() {
    let c = with_crontabs();
    let file = c.write_file(
        "bad.yaml",
        crontab("bad", "  cronSpec: nope\n  replicas: 20\n"),
    );
    let err = c.fails(&["apply", "-f", file.to_str().unwrap()]);
    assert!(err.contains("The CronTab \"bad\" is invalid"), "{err}");
    assert!(
        err.contains("spec.replicas: Invalid value: 20: spec.replicas in body should be less than or equal to 10"),
        "{err}"
    );
    assert!(
        err.contains("spec.cronSpec: Invalid value: \"nope\": spec.cronSpec in body should match"),
        "{err}"
    );
    // An unknown field: refused by kubectl's default (strict) validation, pruned otherwise.
    let file = c.write_file(
        "unknown.yaml",
        crontab("unknown", "  cronSpec: '* * * * *'\n  colour: red\n"),
    );
    let err = c.fails(&["apply", "-f", file.to_str().unwrap()]);
    assert!(
        err.contains("CronTab in version \"v1\" cannot be handled as a CronTab: strict decoding error: unknown field \"spec.colour\""),
        "{err}"
    );
    let out = c.kubectl(&["apply", "--validate=warn", "-f", file.to_str().unwrap()]);
    assert!(out.success(), "{}", out.stderr);
    assert!(
        out.stderr.contains("unknown field \"spec.colour\""),
        "{}",
        out.stderr
    );
    assert!(
        c.get_json(&["ct", "unknown"])["spec"]
            .get("colour")
            .is_none()
    );
    // A strategic merge patch is not taken.
    let err = c.fails(&["patch", "ct", "unknown", "-p", r#"{"spec":{"image":"x"}}"#]);
    assert!(
        err.contains("application/strategic-merge-patch+json is not supported"),
        "{err}"
    );
    assert!(
        c.get_json(&["ct", "unknown"])["spec"]
            .get("image")
            .is_none()
    );
}

#[test]
fn scale_and_status_are_subresources_of_a_crontab() {
    let c = with_crontabs();
    apply(
        &c,
        "cron.yaml",
        &crontab("web", "  cronSpec: '* * * * *'\n"),
    );
    assert_eq!(
        c.ok(&["scale", "ct", "web", "--replicas=3"]),
        "crontab.stable.example.com/web scaled\n"
    );
    assert_eq!(c.jsonpath(&["ct", "web"], "{.spec.replicas}"), "3");
    // Status is written through /status only; the main resource keeps it as it was.
    c.ok(&[
        "patch",
        "ct",
        "web",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"replicas":3,"selector":"app=web"}}"#,
    ]);
    c.ok(&[
        "patch",
        "ct",
        "web",
        "--type=merge",
        "-p",
        r#"{"status":{"replicas":9}}"#,
    ]);
    assert_eq!(c.jsonpath(&["ct", "web"], "{.status.replicas}"), "3");
    let scale = c.ok(&[
        "get",
        "--raw",
        "/apis/stable.example.com/v1/namespaces/default/crontabs/web/scale",
    ]);
    let scale: serde_json::Value = serde_json::from_str(&scale).unwrap();
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["spec"]["replicas"], 3);
    assert_eq!(scale["status"]["selector"], "app=web");
    // Status and metadata changes leave the generation; spec changes count.
    assert_eq!(c.jsonpath(&["ct", "web"], "{.metadata.generation}"), "2");
}

#[test]
fn deleting_the_definition_deletes_its_objects_and_stops_serving_them() {
    let c = with_crontabs();
    apply(
        &c,
        "cron.yaml",
        &crontab("web", "  cronSpec: '* * * * *'\n"),
    );
    let status = c.get_json(&["crd", "crontabs.stable.example.com"])["status"].clone();
    assert_eq!(status["acceptedNames"]["kind"], "CronTab", "{status}");
    assert_eq!(
        status["storedVersions"],
        serde_json::json!(["v1"]),
        "{status}"
    );
    assert_eq!(
        c.ok(&["delete", "crd", "crontabs.stable.example.com"]),
        "customresourcedefinition.apiextensions.k8s.io \"crontabs.stable.example.com\" deleted\n"
    );
    let err = c.fails(&[
        "get",
        "--raw",
        "/apis/stable.example.com/v1/namespaces/default/crontabs",
    ]);
    assert!(err.contains("NotFound"), "{err}");
    // Made again, it starts empty: the old objects are gone from the store.
    let c2 = c.write_file("crontabs.yaml", CRONTABS);
    c.ok(&["apply", "-f", c2.to_str().unwrap()]);
    c.ok(&[
        "wait",
        "--for",
        "condition=established",
        "crd/crontabs.stable.example.com",
    ]);
    let list = c.ok(&[
        "get",
        "--raw",
        "/apis/stable.example.com/v1/namespaces/default/crontabs",
    ]);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["items"], serde_json::json!([]), "{list}");
}

#[test]
fn custom_resources_outlive_a_server_restart() {
    let mut c = with_crontabs();
    apply(
        &c,
        "cron.yaml",
        &crontab("kept", "  cronSpec: '* * * * *'\n"),
    );
    c.restart_after_kill9();
    assert!(c.ok(&["get", "ct"]).contains("kept"));
}

const WIDGETS: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.toys.example.org
spec:
  group: toys.example.org
  scope: Cluster
  names: {plural: widgets, kind: Widget}
  versions:
  - name: v1beta1
    served: true
    storage: false
    schema: {openAPIV3Schema: {type: object, properties: {size: {type: string}}}}
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, properties: {size: {type: string, enum: [S, M, L]}}}}
"#;

#[test]
fn a_definition_serves_each_version_and_prefers_the_stable_one() {
    let c = Cluster::start();
    apply(&c, "widgets.yaml", WIDGETS);
    c.ok(&[
        "wait",
        "--for",
        "condition=established",
        "crd/widgets.toys.example.org",
    ]);
    apply(
        &c,
        "w1.yaml",
        "apiVersion: toys.example.org/v1beta1\nkind: Widget\nmetadata: {name: w1}\nsize: M\n",
    );
    assert_eq!(
        c.jsonpath(&["widgets.v1beta1.toys.example.org", "w1"], "{.apiVersion}"),
        "toys.example.org/v1beta1"
    );
    assert_eq!(
        c.jsonpath(&["widgets", "w1"], "{.apiVersion} {.size}"),
        "toys.example.org/v1 M"
    );
    let group = c.ok(&["get", "--raw", "/apis/toys.example.org"]);
    let group: serde_json::Value = serde_json::from_str(&group).unwrap();
    assert_eq!(group["preferredVersion"]["version"], "v1", "{group}");
    assert_eq!(group["versions"].as_array().unwrap().len(), 2, "{group}");
    // A version's own schema applies: v1 takes only its sizes.
    let file = c.write_file(
        "w2.yaml",
        "apiVersion: toys.example.org/v1\nkind: Widget\nmetadata: {name: w2}\nsize: XL\n",
    );
    let err = c.fails(&["apply", "-f", file.to_str().unwrap()]);
    assert!(
        err.contains("size: Unsupported value: \"XL\": supported values: \"S\", \"M\", \"L\""),
        "{err}"
    );
    // A definition whose names the group already uses (its singular, from the kind) is not
    // established.
    let taken = WIDGETS
        .replace("widgets", "gadgets")
        .replace("scope: Cluster", "scope: Namespaced");
    apply(&c, "gadgets.yaml", &taken);
    let status = c.get_json(&["crd", "gadgets.toys.example.org"])["status"].clone();
    let names = &status["conditions"][0];
    assert_eq!(
        (names["type"].as_str(), names["status"].as_str()),
        (Some("NamesAccepted"), Some("False")),
        "{status}"
    );
    assert_eq!(names["message"], "\"widget\" is already in use", "{status}");
}

#[test]
fn an_invalid_definition_is_refused_with_its_causes() {
    let c = Cluster::start();
    let bad = CRONTABS
        .replace(
            "name: crontabs.stable.example.com",
            "name: crontab.stable.example.com",
        )
        .replace("    storage: true\n", "    storage: false\n");
    let file = c.write_file("bad.yaml", bad);
    let err = c.fails(&["apply", "-f", file.to_str().unwrap()]);
    assert!(
        err.contains("The CustomResourceDefinition \"crontab.stable.example.com\" is invalid"),
        "{err}"
    );
    assert!(err.contains("metadata.name: Invalid value: \"crontab.stable.example.com\": must be spec.names.plural+\".\"+spec.group"), "{err}");
    assert!(
        err.contains("must have exactly one version marked as storage version"),
        "{err}"
    );
}
