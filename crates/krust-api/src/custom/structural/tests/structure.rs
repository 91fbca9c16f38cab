use super::*;

#[test]
fn a_missing_required_field_is_a_required_value() {
    let mut obj = cron();
    obj["spec"].as_object_mut().unwrap().remove("cronSpec");
    let found = validate(&crontab(), &obj);
    assert_eq!(found[0].reason, "FieldValueRequired");
    assert_eq!(
        (found[0].field.as_str(), found[0].message.as_str()),
        ("spec.cronSpec", "Required value")
    );
    let schema = json!({"type": "object", "required": ["spec"]});
    assert_eq!(causes(&schema, &json!({})), cause("spec", "Required value"));
}

#[test]
fn array_items_are_validated_at_their_index() {
    let containers = json!([{"name": "a"}, {"ports": [{"port": "80"}]}]);
    assert_eq!(
        causes(&crontab(), &cron_with("containers", containers)),
        vec![
            (
                "spec.containers[1].ports[0].port".to_string(),
                r#"Invalid value: "string": spec.containers[1].ports[0].port in body must be of type integer: "string""#.to_string()
            ),
            ("spec.containers[1].name".to_string(), "Required value".to_string()),
        ]
    );
}

#[test]
fn an_array_has_bounds_on_its_length_and_may_need_unique_items() {
    let schema =
        json!({"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "integer"}});
    assert_eq!(
        at_x(schema.clone(), json!([])),
        cause(
            "spec.x",
            "Invalid value: 0: spec.x in body should have at least 1 items"
        )
    );
    assert_eq!(
        at_x(schema, json!([1, 2, 3])),
        cause("spec.x", "Too many: 3: must have at most 2 items")
    );
    let unique = json!({"type": "array", "uniqueItems": true, "items": {"type": "integer"}});
    assert_eq!(at_x(unique.clone(), json!([1, 2])), vec![]);
    assert_eq!(
        at_x(unique, json!([1, 2, 1])),
        cause(
            "spec.x",
            r#"Invalid value: "": spec.x in body shouldn't contain duplicates"#
        )
    );
}

#[test]
fn an_object_has_bounds_on_its_properties() {
    let schema = json!({"type": "object", "minProperties": 1, "maxProperties": 1});
    assert_eq!(
        at_x(schema.clone(), json!({})),
        cause(
            "spec.x",
            "Invalid value: 0: spec.x in body should have at least 1 properties"
        )
    );
    assert_eq!(
        at_x(schema, json!({"a": 1, "b": 2})),
        cause("spec.x", "Too many: 2: must have at most 1 items")
    );
}

#[test]
fn additional_properties_false_forbids_undeclared_keys() {
    let schema = json!({"type": "object", "properties": {"a": {}}, "additionalProperties": false});
    assert_eq!(
        at_x(schema, json!({"a": 1, "b": 2})),
        cause(
            "spec.x",
            r#"Invalid value: "b": spec.x.b in body is a forbidden property"#
        )
    );
}

#[test]
fn additional_properties_values_are_validated_at_a_dotted_key() {
    assert_eq!(
        causes(
            &crontab(),
            &cron_with("labels", json!({"tier": "much-too-long"}))
        ),
        cause("spec.labels.tier", "Too long: may not be more than 8 bytes")
    );
}

#[test]
fn all_of_reports_each_failure_then_itself_at_the_root() {
    let schema = json!({"type": "integer", "allOf": [{"minimum": 1}, {"maximum": 5}]});
    assert_eq!(at_x(schema.clone(), json!(3)), vec![]);
    let mut expected = cause(
        "spec.x",
        "Invalid value: 7: spec.x in body should be less than or equal to 5",
    );
    expected.extend(cause(
        "<nil>",
        r#"Invalid value: "": "spec.x" must validate all the schemas (allOf)"#,
    ));
    assert_eq!(at_x(schema, json!(7)), expected);
}

#[test]
fn any_of_needs_one_valid_alternative() {
    let schema = json!({"anyOf": [{"type": "integer"}, {"type": "string"}]});
    assert_eq!(at_x(schema.clone(), json!("a")), vec![]);
    let found = at_x(schema, json!(true));
    assert_eq!(
        found[0],
        cause(
            "<nil>",
            r#"Invalid value: "": "spec.x" must validate at least one schema (anyOf)"#
        )[0]
    );
    assert_eq!(found.len(), 2, "{found:?}");
}

#[test]
fn one_of_needs_exactly_one_valid_alternative() {
    let schema = json!({"type": "integer", "oneOf": [{"minimum": 5}, {"maximum": 3}]});
    assert_eq!(at_x(schema.clone(), json!(1)), vec![]);
    assert_eq!(
        at_x(schema.clone(), json!(4)),
        vec![
            cause("<nil>", r#"Invalid value: "": "spec.x" must validate one and only one schema (oneOf). Found none valid"#)[0].clone(),
            cause("spec.x", "Invalid value: 4: spec.x in body should be greater than or equal to 5")[0].clone(),
        ]
    );
    let both = json!({"type": "integer", "oneOf": [{"minimum": 1}, {"maximum": 5}]});
    assert_eq!(
        at_x(both, json!(3)),
        cause(
            "<nil>",
            r#"Invalid value: "": "spec.x" must validate one and only one schema (oneOf). Found 2 valid alternatives"#
        )
    );
}

#[test]
fn not_rejects_what_its_schema_accepts() {
    let schema = json!({"type": "string", "not": {"enum": ["x"]}});
    assert_eq!(at_x(schema.clone(), json!("y")), vec![]);
    assert_eq!(
        at_x(schema, json!("x")),
        cause(
            "<nil>",
            r#"Invalid value: "": "spec.x" must not validate the schema (not)"#
        )
    );
}

#[test]
fn a_set_reports_each_repeated_value_once() {
    let schema =
        json!({"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}});
    let found = validate(
        &json!({"type": "object", "properties": {"x": schema}}),
        &json!({"x": ["a", "b", "a", "a"]}),
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].reason, "FieldValueDuplicate");
    assert_eq!(
        (found[0].field.as_str(), found[0].message.as_str()),
        ("x[2]", r#"Duplicate value: "a""#)
    );
}

#[test]
fn a_map_list_reports_a_repeated_key() {
    let containers = json!([{"name": "a"}, {"name": "b"}, {"name": "a", "ports": []}]);
    assert_eq!(
        causes(&crontab(), &cron_with("containers", containers)),
        cause(
            "spec.containers[2]",
            r#"Duplicate value: map[string]interface {}{"name":"a"}"#
        )
    );
    let not_objects = json!([{"name": "a"}, "b"]);
    let found = causes(&crontab(), &cron_with("containers", not_objects));
    assert!(found.contains(
        &cause(
            "spec.containers[1]",
            r#"Invalid value: "b": must be an object for an array of list-type map"#
        )[0]
    ));
}

#[test]
fn list_types_beneath_a_map_are_found_by_key() {
    let schema = json!({
        "type": "object",
        "additionalProperties": {
            "type": "array",
            "x-kubernetes-list-type": "set",
            "items": {"type": "integer"}
        }
    });
    assert_eq!(
        at_x(schema, json!({"k": [1, 1]})),
        cause("spec.x[k][1]", "Duplicate value: 1")
    );
}

#[test]
fn an_embedded_resource_needs_an_api_version_and_a_kind() {
    let found = causes(&crontab(), &cron_with("template", json!({"spec": {}})));
    assert_eq!(
        found,
        vec![
            (
                "spec.template.apiVersion".to_string(),
                "Required value: must not be empty".to_string()
            ),
            (
                "spec.template.kind".to_string(),
                "Required value: must not be empty".to_string()
            ),
        ]
    );
    let ok = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}});
    assert_eq!(causes(&crontab(), &cron_with("template", ok)), vec![]);
}

#[test]
fn an_embedded_resources_type_and_metadata_are_checked() {
    let bad = json!({"apiVersion": "a/b/c", "kind": "my_kind", "metadata": "x"});
    let found = causes(&crontab(), &cron_with("template", bad));
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(
        found[0],
        cause(
            "spec.template.apiVersion",
            r#"Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c"#
        )[0]
    );
    assert!(found[1].1.starts_with(r#"Invalid value: "my_kind": may have mixed case, but should otherwise match: a DNS-1035 label"#));
    assert_eq!(
        found[2],
        cause(
            "spec.template.metadata",
            r#"Invalid value: "x": json: cannot unmarshal string into Go value of type v1.ObjectMeta"#
        )[0]
    );
}
