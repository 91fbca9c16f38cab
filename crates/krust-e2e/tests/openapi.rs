//! OpenAPI v2 as kubectl reads it: the protobuf `/openapi/v2`, which kubectl 1.32 asks for on
//! its own for `explain --output=plaintext-openapiv2` and to validate a `v1 List` (a List has
//! no PATCH operation in OpenAPI v3, so kubectl validates it client-side against the v2
//! schema).

use krust_e2e::Cluster;

#[test]
fn explain_with_openapi_v2_walks_the_protobuf_schema() {
    let c = Cluster::start();
    let out = c.ok(&[
        "explain",
        "deployments.spec.strategy",
        "--output=plaintext-openapiv2",
    ]);
    assert!(out.contains("KIND:     Deployment"), "{out}");
    assert!(out.contains("VERSION:  apps/v1"), "{out}");
    assert!(out.contains("RESOURCE: strategy <Object>"), "{out}");
    assert!(out.contains("rollingUpdate\t<Object>"), "{out}");

    let out = c.ok(&[
        "explain",
        "pods.spec.containers",
        "--output=plaintext-openapiv2",
    ]);
    assert!(out.contains("RESOURCE: containers <[]Object>"), "{out}");
    assert!(out.contains("image\t<string>"), "{out}");
}

const LIST: &str = "apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: from-list
  data:
    k: v
";

#[test]
fn a_list_is_validated_against_the_v2_schema_on_create() {
    let c = Cluster::start();
    let file = c.write_file("list.yaml", LIST);
    assert_eq!(
        c.ok(&["create", "-f", file.to_str().unwrap()]),
        "configmap/from-list created\n"
    );
    assert_eq!(c.jsonpath(&["configmap", "from-list"], "{.data.k}"), "v");

    let bad = LIST
        .replace("from-list", "misspelt")
        .replace("  data:", "  dataa:");
    let file = c.write_file("bad.yaml", bad);
    let err = c.fails(&["create", "-f", file.to_str().unwrap()]);
    assert!(
        err.contains(r#"unknown field "dataa" in io.k8s.api.core.v1.ConfigMap"#),
        "{err}"
    );
}
