use super::*;

#[test]
fn an_absent_field_gets_its_default() {
    let mut obj = cron();
    obj["spec"].as_object_mut().unwrap().remove("replicas");
    default(&crontab(), &mut obj);
    assert_eq!(obj["spec"]["replicas"], json!(1));
    assert_eq!(obj["spec"]["policy"], json!("Allow"));
}

#[test]
fn a_present_field_keeps_its_value() {
    let mut obj = cron_with("policy", json!("Forbid"));
    default(&crontab(), &mut obj);
    assert_eq!(obj["spec"]["replicas"], json!(3));
    assert_eq!(obj["spec"]["policy"], json!("Forbid"));
}

#[test]
fn a_null_non_nullable_field_gets_its_default() {
    let mut obj = cron_with("replicas", Value::Null);
    default(&crontab(), &mut obj);
    assert_eq!(obj["spec"]["replicas"], json!(1));
}

#[test]
fn a_null_nullable_field_stays_null() {
    let schema = json!({
        "type": "object",
        "properties": {"a": {"type": "string", "nullable": true, "default": "x"}}
    });
    let mut obj = json!({"a": null});
    default(&schema, &mut obj);
    assert_eq!(obj, json!({"a": null}));
}

#[test]
fn defaults_are_set_inside_array_items() {
    let mut obj = cron();
    default(&crontab(), &mut obj);
    assert_eq!(
        obj["spec"]["containers"],
        json!([{"name": "a", "ports": [{"port": 80, "protocol": "TCP"}]}])
    );
}

#[test]
fn null_array_items_and_map_values_take_their_default() {
    let schema = json!({
        "type": "object",
        "properties": {
            "list": {"type": "array", "items": {"type": "string", "default": "d"}},
            "map": {"type": "object", "additionalProperties": {"type": "integer", "default": 7}}
        }
    });
    let mut obj = json!({"list": ["a", null], "map": {"k": null, "l": 1}});
    default(&schema, &mut obj);
    assert_eq!(obj, json!({"list": ["a", "d"], "map": {"k": 7, "l": 1}}));
}

#[test]
fn defaults_are_set_inside_additional_properties_values() {
    let schema = json!({
        "type": "object",
        "additionalProperties": {
            "type": "object",
            "properties": {"weight": {"type": "integer", "default": 1}}
        }
    });
    let mut obj = json!({"a": {}, "b": {"weight": 5}});
    default(&schema, &mut obj);
    assert_eq!(obj, json!({"a": {"weight": 1}, "b": {"weight": 5}}));
}

#[test]
fn a_defaulted_object_gets_the_defaults_beneath_it() {
    let schema = json!({
        "type": "object",
        "properties": {"spec": {
            "type": "object",
            "default": {},
            "properties": {"size": {"type": "integer", "default": 5}}
        }}
    });
    let mut obj = json!({});
    default(&schema, &mut obj);
    assert_eq!(obj, json!({"spec": {"size": 5}}));
}

#[test]
fn the_roots_metadata_is_not_defaulted() {
    let schema = json!({
        "type": "object",
        "properties": {
            "metadata": {
                "type": "object",
                "properties": {"name": {"type": "string", "default": "x"}}
            },
            "spec": {"type": "object", "default": {"a": 1}}
        }
    });
    let mut obj = json!({"metadata": {}});
    default(&schema, &mut obj);
    assert_eq!(obj, json!({"metadata": {}, "spec": {"a": 1}}));
}

#[test]
fn a_defaulted_crontab_is_valid() {
    let mut obj = cron();
    default(&crontab(), &mut obj);
    assert_eq!(causes(&crontab(), &obj), vec![]);
}
