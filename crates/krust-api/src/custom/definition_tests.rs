use super::*;

fn crontab() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "crontabs.stable.example.com"},
        "spec": {
            "group": "stable.example.com", "scope": "Namespaced",
            "names": {"plural": "crontabs", "kind": "CronTab", "shortNames": ["ct"]},
            "versions": [
                {"name": "v1beta1", "served": true, "storage": false,
                 "schema": {"openAPIV3Schema": {"type": "object"}}},
                {"name": "v1", "served": true, "storage": true,
                 "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                     "spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}}},
                 "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                     "statusReplicasPath": ".status.replicas"}}},
            ],
        },
    })
}

fn established() -> Value {
    let mut crd = crontab();
    set_defaults(&mut crd);
    crd["status"] = status(&crd, None, "2026-01-01T00:00:00Z");
    crd
}

#[test]
fn defaults_name_the_singular_and_the_list_kind() {
    let mut crd = crontab();
    set_defaults(&mut crd);
    assert_eq!(crd["spec"]["names"]["singular"], "crontab");
    assert_eq!(crd["spec"]["names"]["listKind"], "CronTabList");
    assert_eq!(crd["spec"]["conversion"]["strategy"], "None");
    assert!(
        validate(&crd, None).is_empty(),
        "{:?}",
        validate(&crd, None)
    );
}

#[test]
fn a_name_that_is_not_plural_dot_group_is_invalid() {
    let mut crd = crontab();
    set_defaults(&mut crd);
    crd["metadata"]["name"] = json!("crontab.stable.example.com");
    let causes = validate(&crd, None);
    assert_eq!(causes[0].field, "metadata.name");
    assert!(
        causes[0]
            .message
            .contains("must be spec.names.plural+\".\"+spec.group")
    );
}

#[test]
fn two_storage_versions_and_a_missing_schema_are_invalid() {
    let mut crd = crontab();
    set_defaults(&mut crd);
    crd["spec"]["versions"][0]["storage"] = json!(true);
    crd["spec"]["versions"][0]
        .as_object_mut()
        .unwrap()
        .remove("schema");
    let fields: Vec<String> = validate(&crd, None).into_iter().map(|c| c.field).collect();
    assert!(fields.contains(&"spec.versions".to_string()), "{fields:?}");
    assert!(fields.contains(&"spec.versions[0].schema.openAPIV3Schema".to_string()));
}

#[test]
fn an_untyped_property_is_not_structural() {
    let mut crd = crontab();
    set_defaults(&mut crd);
    crd["spec"]["versions"][1]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["image"] =
        json!({"description": "no type"});
    let causes = validate(&crd, None);
    assert_eq!(
        causes[0].field,
        "spec.versions[1].schema.openAPIV3Schema.properties[spec].properties[image].type"
    );
}

#[test]
fn the_scope_may_not_change() {
    let old = established();
    let mut new = old.clone();
    new["spec"]["scope"] = json!("Cluster");
    assert_eq!(
        validate(&new, Some(&old))[0].message,
        "Invalid value: \"Cluster\": field is immutable"
    );
}

#[test]
fn an_established_definition_serves_each_version_preferred_first() {
    let crd = established();
    let served = resources(&crd);
    let versions: Vec<&str> = served.iter().map(|r| r.version).collect();
    assert_eq!(versions, ["v1", "v1beta1"]);
    let v1 = served[0];
    assert_eq!(v1.storage, "stable.example.com/crontabs");
    assert_eq!(
        v1.key(Some("default"), "x"),
        "/registry/stable.example.com/crontabs/default/x"
    );
    assert!(v1.has_status && v1.subresource("scale").is_some());
    assert_eq!(v1.short_names, ["ct"]);
    assert_eq!(served[1].custom.unwrap().storage_version, "v1");
    assert!(std::ptr::eq(resources(&crd)[0], v1), "made once");
}

#[test]
fn a_taken_plural_is_not_accepted_and_not_served() {
    let first = established();
    let served = resources(&first);
    let mut second = crontab();
    second["metadata"]["name"] = json!("crontabs.stable.example.com2");
    set_defaults(&mut second);
    second["metadata"]["name"] = json!("other");
    let conflict = names_in_use(&second, &served);
    assert_eq!(conflict.as_deref(), Some("\"crontabs\" is already in use"));
    second["status"] = status(&second, conflict.as_deref(), "now");
    assert!(!is_established(&second));
    assert!(resources(&second).is_empty());
}

#[test]
fn versions_sort_by_kubernetes_priority() {
    let mut v = vec!["v1alpha1", "foo", "v1", "v1beta2", "v2", "v1beta1", "bar"];
    v.sort_by_key(|v| priority(v));
    assert_eq!(
        v,
        ["v2", "v1", "v1beta2", "v1beta1", "v1alpha1", "bar", "foo"]
    );
}

#[test]
fn a_conversion_webhook_is_refused_as_unsupported() {
    let mut crd = crontab();
    crd["spec"]["conversion"] = json!({"strategy": "Webhook"});
    set_defaults(&mut crd);
    let causes = validate(&crd, None);
    assert_eq!(causes[0].field, "spec.conversion.strategy");
    assert!(
        causes[0].message.contains("supported values: \"None\""),
        "{}",
        causes[0].message
    );
}
