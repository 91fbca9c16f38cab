//! Tests of `columns.rs`: a CRD version's printer columns and their cells.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::*;

/// The fixed time the tests print against.
fn now() -> Timestamp {
    "2024-01-01T12:00:00Z".parse().unwrap()
}

/// An RFC 3339 time `secs` seconds before [`now`].
fn ago(secs: i64) -> String {
    (now() - SignedDuration::from_secs(secs)).to_string()
}

/// The CronTab version of the Kubernetes documentation, with a Ready column from the
/// conditions, a priority-1 column and a column for a field the objects lack.
fn crontab_version() -> Value {
    json!({
        "name": "v1",
        "served": true,
        "storage": true,
        "additionalPrinterColumns": [
            {"name": "Spec", "type": "string", "description": "The cron spec defining the interval a CronJob is run", "jsonPath": ".spec.cronSpec"},
            {"name": "Replicas", "type": "integer", "description": "The number of jobs launched by the CronJob", "jsonPath": ".spec.replicas"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
            {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
            {"name": "Image", "type": "string", "priority": 1, "jsonPath": ".spec.image"},
            {"name": "Schedule", "type": "string", "jsonPath": ".status.lastScheduleTime"},
        ],
    })
}

/// A CronTab created 5 minutes before [`now`].
fn crontab() -> Value {
    json!({
        "apiVersion": "stable.example.com/v1",
        "kind": "CronTab",
        "metadata": {"name": "my-new-cron-object", "creationTimestamp": ago(300)},
        "spec": {"cronSpec": "* * * * */5", "image": "my-awesome-cron-image", "replicas": 2},
        "status": {"conditions": [
            {"type": "Scheduled", "status": "True"},
            {"type": "Ready", "status": "False"},
        ]},
    })
}

/// A column of `kind` at `path`, with no description.
fn column(kind: &str, path: &str) -> Column {
    let version = json!({"additionalPrinterColumns": [
        {"name": "C", "type": kind, "jsonPath": path},
    ]});
    columns(&version).remove(1)
}

/// The one cell of a column of `kind` at `path` in `obj`.
fn cell_of(kind: &str, path: &str, obj: &Value) -> Value {
    cells(&[column(kind, path)], obj, now()).remove(0)
}

#[test]
fn the_name_column_comes_first_then_the_declared_ones() {
    let cols = columns(&crontab_version());
    let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Name", "Spec", "Replicas", "Age", "Ready", "Image", "Schedule"
        ]
    );
    let kinds: Vec<&str> = cols.iter().map(|c| c.kind.as_str()).collect();
    let want = [
        "string", "string", "integer", "date", "string", "string", "string",
    ];
    assert_eq!(kinds, want);
    assert_eq!(cols[0].format, "name");
    assert!(
        cols[0]
            .description
            .starts_with("Name must be unique within a namespace.")
    );
    assert_eq!(cols[2].json_path, ".spec.replicas");
}

#[test]
fn a_column_without_description_describes_its_path() {
    let cols = columns(&crontab_version());
    assert_eq!(
        cols[1].description,
        "The cron spec defining the interval a CronJob is run"
    );
    let age = "Custom resource definition column (in JSONPath format): .metadata.creationTimestamp";
    assert_eq!(cols[3].description, age);
}

#[test]
fn a_priority_one_column_keeps_its_priority() {
    let cols = columns(&crontab_version());
    let priorities: Vec<i64> = cols.iter().map(|c| c.priority).collect();
    assert_eq!(priorities, [0, 0, 0, 0, 0, 1, 0]);
}

#[test]
fn a_column_definition_is_table_column_json() {
    let cols = columns(&crontab_version());
    let want = json!({
        "name": "Image",
        "type": "string",
        "format": "",
        "description": "Custom resource definition column (in JSONPath format): .spec.image",
        "priority": 1,
    });
    assert_eq!(cols[5].to_json(), want);
    assert_eq!(cols[0].to_json()["format"], "name");
}

#[test]
fn a_version_without_columns_gets_name_and_age() {
    for version in [
        json!({"name": "v1"}),
        json!({"additionalPrinterColumns": []}),
    ] {
        let cols = columns(&version);
        let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Name", "Age"]);
        let age = &cols[1];
        assert_eq!((age.kind.as_str(), age.format.as_str()), ("date", ""));
        assert_eq!(age.json_path, ".metadata.creationTimestamp");
        assert!(
            age.description
                .starts_with("CreationTimestamp is a timestamp")
        );
        let row = cells(&cols, &crontab(), now());
        assert_eq!(row, [json!("my-new-cron-object"), json!("5m")]);
    }
}

#[test]
fn the_columns_end_before_a_path_that_does_not_parse() {
    let version = json!({"additionalPrinterColumns": [
        {"name": "A", "type": "string", "jsonPath": ".spec.a"},
        {"name": "B", "type": "string", "jsonPath": ".spec.b[0"},
        {"name": "C", "type": "string", "jsonPath": ".spec.c"},
    ]});
    let names: Vec<String> = columns(&version).into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["Name", "A"]);
}

#[test]
fn a_crontab_row_has_one_cell_per_column() {
    let row = cells(&columns(&crontab_version()), &crontab(), now());
    let want = [
        json!("my-new-cron-object"),
        json!("* * * * */5"),
        json!(2),
        json!("5m"),
        json!("False"),
        json!("my-awesome-cron-image"),
        Value::Null,
    ];
    assert_eq!(row, want);
}

#[test]
fn a_missing_field_is_a_null_cell() {
    let obj = json!({"metadata": {"name": "x"}, "spec": {}});
    for kind in ["string", "integer", "number", "boolean", "date"] {
        assert_eq!(cell_of(kind, ".spec.missing", &obj), Value::Null, "{kind}");
    }
}

#[test]
fn a_value_of_the_wrong_type_is_a_null_cell() {
    let obj = json!({"spec": {"s": "3", "b": true}});
    assert_eq!(cell_of("integer", ".spec.s", &obj), Value::Null);
    assert_eq!(cell_of("number", ".spec.b", &obj), Value::Null);
    assert_eq!(cell_of("boolean", ".spec.s", &obj), Value::Null);
    assert_eq!(cell_of("date", ".spec.b", &obj), Value::Null);
    assert_eq!(cell_of("other", ".spec.s", &obj), Value::Null);
}

#[test]
fn numbers_and_booleans_keep_their_json_value() {
    let obj = json!({"spec": {"int": 3, "float": 2.5, "on": true}});
    assert_eq!(cell_of("integer", ".spec.int", &obj), json!(3));
    assert_eq!(cell_of("integer", ".spec.float", &obj), json!(2));
    assert_eq!(cell_of("number", ".spec.int", &obj), json!(3));
    assert_eq!(cell_of("number", ".spec.float", &obj), json!(2.5));
    assert_eq!(cell_of("boolean", ".spec.on", &obj), json!(true));
}

#[test]
fn a_string_column_prints_other_values_as_go_does() {
    let obj = json!({"spec": {
        "int": 3, "float": 2.5, "million": 1e6, "small": 0.00001, "on": false, "null": null,
        "list": ["a", 1], "map": {"b": "<&>", "a": 1},
    }});
    let text = |path: &str| cell_of("string", path, &obj);
    assert_eq!(text(".spec.int"), "3");
    assert_eq!(text(".spec.float"), "2.5");
    assert_eq!(text(".spec.million"), "1e+06");
    assert_eq!(text(".spec.small"), "1e-05");
    assert_eq!(text(".spec.on"), "false");
    assert_eq!(text(".spec.null"), "<no value>");
    assert_eq!(text(".spec.list"), r#"["a",1]"#);
    assert_eq!(text(".spec.map"), r#"{"a":1,"b":"\u003c\u0026\u003e"}"#);
}

#[test]
fn several_matches_print_the_first_as_upstream() {
    let obj = json!({"spec": {"items": [{"name": "a"}, {"name": "b"}]}});
    assert_eq!(cell_of("string", ".spec.items[*].name", &obj), "a");
}

#[test]
fn a_date_column_prints_the_time_since() {
    let at = |time: Value| cell_of("date", ".t", &json!({"t": time}));
    assert_eq!(at(json!(ago(3 * 3600))), "3h");
    assert_eq!(at(json!("")), "<unknown>");
    assert_eq!(at(json!("0001-01-01T00:00:00Z")), "<unknown>");
    assert_eq!(at(json!("yesterday")), "<invalid>");
}

#[test]
fn a_quoted_label_key_column_finds_the_label() {
    let obj = json!({"metadata": {"labels": {"app.kubernetes.io/name": "shop"}}});
    let path = r".metadata.labels['app\.kubernetes\.io/name']";
    assert_eq!(cell_of("string", path, &obj), "shop");
}
