use super::*;

#[test]
fn a_valid_crontab_has_no_causes() {
    assert_eq!(causes(&crontab(), &cron()), vec![]);
}

#[test]
fn a_string_where_an_integer_is_declared_is_invalid() {
    let found = validate(&crontab(), &cron_with("replicas", json!("3")));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].field, "spec.replicas");
    assert_eq!(found[0].reason, "FieldValueTypeInvalid");
    assert_eq!(
        found[0].message,
        r#"Invalid value: "string": spec.replicas in body must be of type integer: "string""#
    );
}

#[test]
fn a_whole_float_is_a_valid_integer_and_a_fraction_is_not() {
    assert_eq!(
        causes(&crontab(), &cron_with("replicas", json!(3.0))),
        vec![]
    );
    assert_eq!(
        causes(&crontab(), &cron_with("replicas", json!(2.5))),
        cause(
            "spec.replicas",
            r#"Invalid value: "number": spec.replicas in body must be of type integer: "number""#
        )
    );
}

#[test]
fn an_integer_is_a_valid_number() {
    assert_eq!(at_x(json!({"type": "number"}), json!(3)), vec![]);
    assert_eq!(at_x(json!({"type": "number"}), json!(3.5)), vec![]);
}

#[test]
fn null_is_a_type_error_unless_nullable() {
    assert_eq!(
        causes(&crontab(), &cron_with("image", Value::Null)),
        cause(
            "spec.image",
            r#"Invalid value: "null": spec.image in body must be of type string: "null""#
        )
    );
    assert_eq!(
        causes(&crontab(), &cron_with("paused", Value::Null)),
        vec![]
    );
}

#[test]
fn a_boolean_an_object_and_an_array_are_told_apart() {
    let found = causes(&crontab(), &cron_with("paused", json!("yes")));
    assert_eq!(
        found[0].1,
        r#"Invalid value: "string": spec.paused in body must be of type boolean: "string""#
    );
    let found = causes(&crontab(), &cron_with("labels", json!(["a"])));
    assert_eq!(
        found[0].1,
        r#"Invalid value: "array": spec.labels in body must be of type object: "array""#
    );
    let found = causes(&crontab(), &cron_with("containers", json!({})));
    assert_eq!(
        found[0].1,
        r#"Invalid value: "object": spec.containers in body must be of type array: "object""#
    );
}

#[test]
fn int_or_string_takes_an_integer_or_a_string_only() {
    assert_eq!(causes(&crontab(), &cron_with("port", json!(80))), vec![]);
    assert_eq!(
        causes(&crontab(), &cron_with("port", json!("http"))),
        vec![]
    );
    assert_eq!(
        causes(&crontab(), &cron_with("port", json!(true))),
        cause(
            "spec.port",
            r#"Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean""#
        )
    );
}

#[test]
fn a_type_error_at_the_root_has_no_field() {
    assert_eq!(
        causes(&crontab(), &json!([])),
        cause(
            "<nil>",
            r#"Invalid value: "array":  in body must be of type object: "array""#
        )
    );
}

#[test]
fn anything_is_accepted_beneath_preserve_unknown_fields() {
    let config = json!({"a": [1, {"b": null}], "c": "d", "limits": {"gpu": 1}});
    assert_eq!(causes(&crontab(), &cron_with("config", config)), vec![]);
}

#[test]
fn declared_fields_beneath_preserve_unknown_fields_are_validated() {
    let config = json!({"limits": {"cpu": 1}});
    assert_eq!(
        causes(&crontab(), &cron_with("config", config)),
        cause(
            "spec.config.limits.cpu",
            r#"Invalid value: "integer": spec.config.limits.cpu in body must be of type string: "integer""#
        )
    );
}

#[test]
fn a_string_format_rejects_other_scalars_by_the_formats_name() {
    let mut obj = cron();
    obj["status"] = json!({"lastScheduleTime": 5});
    assert_eq!(
        causes(&crontab(), &obj),
        cause(
            "status.lastScheduleTime",
            r#"Invalid value: "int64": status.lastScheduleTime in body must be of type date-time: "int64""#
        )
    );
}

#[test]
fn a_format_crds_do_not_support_is_ignored() {
    assert_eq!(
        at_x(
            json!({"type": "string", "format": "k8s-short-name"}),
            json!("A_b")
        ),
        vec![]
    );
    assert_eq!(
        at_x(json!({"type": "integer", "format": "int32"}), json!("x")),
        cause(
            "spec.x",
            r#"Invalid value: "string": spec.x in body must be of type integer: "string""#
        )
    );
}
