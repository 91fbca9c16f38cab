use super::*;

#[test]
fn replicas_above_the_maximum_are_invalid() {
    assert_eq!(
        causes(&crontab(), &cron_with("replicas", json!(11))),
        cause(
            "spec.replicas",
            "Invalid value: 11: spec.replicas in body should be less than or equal to 10"
        )
    );
}

#[test]
fn replicas_below_the_minimum_are_invalid() {
    assert_eq!(
        causes(&crontab(), &cron_with("replicas", json!(0))),
        cause(
            "spec.replicas",
            "Invalid value: 0: spec.replicas in body should be greater than or equal to 1"
        )
    );
}

#[test]
fn exclusive_bounds_exclude_the_bound() {
    let schema = json!({
        "type": "number",
        "minimum": 0, "exclusiveMinimum": true,
        "maximum": 1.5, "exclusiveMaximum": true
    });
    assert_eq!(at_x(schema.clone(), json!(1.2)), vec![]);
    assert_eq!(
        at_x(schema.clone(), json!(0)),
        cause(
            "spec.x",
            "Invalid value: 0: spec.x in body should be greater than 0"
        )
    );
    assert_eq!(
        at_x(schema.clone(), json!(1.5)),
        cause(
            "spec.x",
            "Invalid value: 1.5: spec.x in body should be less than 1.5"
        )
    );
    // As upstream, an integer is compared with the bound truncated to an integer.
    assert_eq!(
        at_x(schema, json!(1)),
        cause(
            "spec.x",
            "Invalid value: 1: spec.x in body should be less than 1"
        )
    );
}

#[test]
fn floats_are_printed_as_go_prints_them() {
    let schema = json!({"type": "number", "maximum": 1_000_000});
    assert_eq!(
        at_x(schema.clone(), json!(2e6)),
        cause(
            "spec.x",
            "Invalid value: 2e+06: spec.x in body should be less than or equal to 1e+06"
        )
    );
    // An integer value is compared with the bound as an integer.
    assert_eq!(
        at_x(schema, json!(2_000_000)),
        cause(
            "spec.x",
            "Invalid value: 2000000: spec.x in body should be less than or equal to 1000000"
        )
    );
}

#[test]
fn a_number_must_be_a_multiple_of_multiple_of() {
    let by =
        |factor: Value, value: Value| at_x(json!({"type": "number", "multipleOf": factor}), value);
    assert_eq!(by(json!(5), json!(10)), vec![]);
    assert_eq!(by(json!(0.1), json!(0.3)), vec![]);
    assert_eq!(
        by(json!(5), json!(7)),
        cause(
            "spec.x",
            "Invalid value: 7: spec.x in body should be a multiple of 5"
        )
    );
    assert_eq!(
        by(json!(0.1), json!(0.35)),
        cause(
            "spec.x",
            "Invalid value: 0.35: spec.x in body should be a multiple of 0.1"
        )
    );
    // As upstream, an integer's factor is truncated to an integer first.
    assert_eq!(
        by(json!(0.5), json!(2)),
        cause(
            "spec.x",
            "Invalid value: 0: factor MultipleOf declared for spec.x must be positive: 0"
        )
    );
}

#[test]
fn a_cron_spec_must_match_its_pattern() {
    assert_eq!(
        causes(&crontab(), &cron_with("cronSpec", json!("every minute"))),
        cause(
            "spec.cronSpec",
            r#"Invalid value: "every minute": spec.cronSpec in body should match '^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$'"#
        )
    );
}

#[test]
fn an_invalid_pattern_is_a_cause_and_not_a_panic() {
    let found = at_x(json!({"type": "string", "pattern": "(a"}), json!("a"));
    assert_eq!(found.len(), 1);
    assert!(
        found[0].1.starts_with(r#"Invalid value: "a": spec.x in body should match '(a, but pattern is invalid: error parsing regexp"#),
        "{}",
        found[0].1
    );
}

#[test]
fn lengths_are_counted_in_characters() {
    let schema = json!({"type": "string", "minLength": 3, "maxLength": 3});
    assert_eq!(at_x(schema.clone(), json!("日本語")), vec![]);
    assert_eq!(
        at_x(schema.clone(), json!("日本")),
        cause(
            "spec.x",
            r#"Invalid value: "日本": spec.x in body should be at least 3 chars long"#
        )
    );
    let found = validate(
        &json!({"type": "object", "properties": {"x": schema}}),
        &json!({"x": "abcd"}),
    );
    assert_eq!(found[0].reason, "FieldValueTooLong");
    assert_eq!(
        (found[0].field.as_str(), found[0].message.as_str()),
        ("x", "Too long: may not be more than 3 bytes")
    );
}

#[test]
fn only_a_strings_first_failure_is_reported() {
    let long = "a".repeat(65);
    assert_eq!(
        causes(&crontab(), &cron_with("image", json!(long))),
        cause("spec.image", "Too long: may not be more than 64 bytes")
    );
}

#[test]
fn a_value_outside_the_enum_is_not_supported() {
    let found = validate(&crontab(), &cron_with("policy", json!("Sometimes")));
    assert_eq!(found[0].reason, "FieldValueNotSupported");
    assert_eq!(
        (found[0].field.as_str(), found[0].message.as_str()),
        (
            "spec.policy",
            r#"Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace""#
        )
    );
    let numbers = json!({"type": "integer", "enum": [1, 2]});
    assert_eq!(at_x(numbers.clone(), json!(1.0)), vec![]);
    assert_eq!(
        at_x(numbers, json!(3)),
        cause(
            "spec.x",
            r#"Unsupported value: 3: supported values: "1", "2""#
        )
    );
}

#[test]
fn date_times_are_rfc3339() {
    let at = |time: &str| {
        let mut obj = cron();
        obj["status"] = json!({"lastScheduleTime": time});
        causes(&crontab(), &obj)
    };
    assert_eq!(at("2024-01-02T03:04:05Z"), vec![]);
    assert_eq!(at("2024-01-02t03:04:05.123+02:00"), vec![]);
    assert_eq!(at("2024-02-30T00:00:00Z").len(), 1);
    assert_eq!(at("2024-01-02T24:00:00Z").len(), 1);
    assert_eq!(
        at("yesterday"),
        cause(
            "status.lastScheduleTime",
            r#"Invalid value: "yesterday": status.lastScheduleTime in body must be of type date-time: "yesterday""#
        )
    );
}

#[test]
fn other_string_formats_are_checked() {
    let format = |f: &str, v: &str| at_x(json!({"type": "string", "format": f}), json!(v)).len();
    assert_eq!(format("byte", "aGVsbG8="), 0);
    assert_eq!(format("byte", "hello!"), 1);
    assert_eq!(format("uuid", "123e4567-e89b-12d3-a456-426614174000"), 0);
    assert_eq!(format("uuid", "123e4567"), 1);
    assert_eq!(format("ipv4", "10.0.0.1"), 0);
    assert_eq!(format("ipv4", "10.0.0"), 1);
    assert_eq!(format("ipv6", "fd00::1"), 0);
    assert_eq!(format("cidr", "10.0.0.0/8"), 0);
    assert_eq!(format("cidr", "10.0.0.0/33"), 1);
    assert_eq!(format("date", "2024-02-29"), 0);
    assert_eq!(format("date", "2023-02-29"), 1);
}

#[test]
fn an_int32_must_fit_in_32_bits() {
    let mut obj = cron();
    obj["spec"]["containers"][0]["ports"][0]["port"] = json!(2_147_483_648_i64);
    assert_eq!(
        causes(&crontab(), &obj),
        cause(
            "<nil>",
            r#"Invalid value: "": Checked value must be of type integer with format int32 in spec.containers[0].ports[0].port"#
        )
    );
    obj["spec"]["containers"][0]["ports"][0]["port"] = json!(2_147_483_647);
    assert_eq!(causes(&crontab(), &obj), vec![]);
}
