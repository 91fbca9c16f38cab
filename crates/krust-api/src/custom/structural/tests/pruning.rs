use super::*;

#[test]
fn undeclared_fields_are_pruned_and_their_paths_returned_sorted() {
    let mut obj = cron();
    obj["extra"] = json!(true);
    obj["spec"]["foo"] = json!({"deep": 1});
    obj["spec"]["containers"][0]["bar"] = json!(1);
    obj["spec"]["containers"][0]["ports"][0]["baz"] = json!("x");
    obj["status"] = json!({"x": 1});
    let pruned = prune(&crontab(), &mut obj);
    assert_eq!(
        pruned,
        [
            "extra",
            "spec.containers[0].bar",
            "spec.containers[0].ports[0].baz",
            "spec.foo",
            "status.x"
        ]
    );
    let mut expected = cron();
    expected["status"] = json!({});
    assert_eq!(obj, expected);
}

#[test]
fn a_declared_object_is_left_as_it_is() {
    let mut obj = cron();
    assert!(prune(&crontab(), &mut obj).is_empty());
    assert_eq!(obj, cron());
}

#[test]
fn the_roots_api_version_kind_and_metadata_are_never_pruned() {
    let mut obj = cron();
    obj["metadata"]["labels"] = json!({"a": "b"});
    obj["metadata"]["whatever"] = json!(1);
    let expected = obj.clone();
    assert!(prune(&crontab(), &mut obj).is_empty());
    assert_eq!(obj, expected);
}

#[test]
fn preserve_unknown_fields_keeps_undeclared_fields_but_prunes_inside_declared_ones() {
    let mut obj = cron_with(
        "config",
        json!({"anything": {"deep": [1, {"x": null}]}, "limits": {"cpu": "1", "gpu": "2"}}),
    );
    let pruned = prune(&crontab(), &mut obj);
    assert_eq!(pruned, ["spec.config.limits.gpu"]);
    assert_eq!(
        obj["spec"]["config"],
        json!({"anything": {"deep": [1, {"x": null}]}, "limits": {"cpu": "1"}})
    );
}

#[test]
fn an_embedded_resource_keeps_its_api_version_kind_and_metadata() {
    let schema = json!({
        "type": "object",
        "properties": {"template": {
            "type": "object",
            "x-kubernetes-embedded-resource": true,
            "properties": {"spec": {"type": "object", "properties": {"a": {"type": "integer"}}}}
        }}
    });
    let template = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "x", "junk": 1},
        "spec": {"a": 1, "b": 2},
        "other": 1
    });
    let mut obj = json!({"template": template});
    assert_eq!(
        prune(&schema, &mut obj),
        ["template.other", "template.spec.b"]
    );
    assert_eq!(
        obj["template"],
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "junk": 1}, "spec": {"a": 1}})
    );
}

#[test]
fn additional_properties_keep_their_keys_and_map_keys_are_dotted_in_paths() {
    let schema = json!({
        "type": "object",
        "properties": {"m": {
            "type": "object",
            "additionalProperties": {"type": "object", "properties": {"a": {"type": "string"}}}
        }}
    });
    let mut obj = json!({"m": {"k": {"a": "x", "b": "y"}}});
    assert_eq!(prune(&schema, &mut obj), ["m.k.b"]);
    assert_eq!(obj, json!({"m": {"k": {"a": "x"}}}));
}

#[test]
fn an_array_of_undeclared_objects_loses_their_fields() {
    let schema = json!({"type": "object", "properties": {"list": {"type": "array"}}});
    let mut obj = json!({"list": [{"a": 1}, 2]});
    assert_eq!(prune(&schema, &mut obj), ["list[0].a"]);
    assert_eq!(obj, json!({"list": [{}, 2]}));
}

#[test]
fn non_nullable_nulls_without_a_default_are_dropped() {
    let mut obj = cron();
    obj["spec"]["image"] = Value::Null;
    obj["spec"]["paused"] = Value::Null;
    obj["spec"]["replicas"] = Value::Null;
    assert!(prune(&crontab(), &mut obj).is_empty());
    let spec = obj["spec"].as_object().unwrap();
    assert!(!spec.contains_key("image"), "non-nullable, no default");
    assert_eq!(spec["paused"], Value::Null, "nullable");
    assert_eq!(spec["replicas"], Value::Null, "left for its default");
}
