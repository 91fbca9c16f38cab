//! Tests of `jsonpath.rs`: client-go's JSONPath on JSON values.

use serde_json::{Value, json};

use super::*;

/// A pod-like object with labels, conditions and containers.
fn obj() -> Value {
    json!({
        "metadata": {
            "name": "web",
            "labels": {"app": "web", "app.kubernetes.io/name": "shop"},
        },
        "spec": {
            "replicas": 3,
            "ratio": 0.5,
            "paused": false,
            "nothing": null,
            "items": [
                {"name": "a", "port": 80, "weight": 1.5},
                {"name": "b", "port": 443, "weight": 2.5},
                {"name": "c", "port": 8080, "weight": 0.5},
            ],
        },
        "status": {
            "conditions": [
                {"type": "Available", "status": "False"},
                {"type": "Ready", "status": "True"},
            ],
        },
    })
}

/// The values a path finds in [`obj`].
fn find(path: &str) -> Vec<Value> {
    jsonpath(path, &obj())
}

#[test]
fn a_field_path_finds_the_value() {
    assert_eq!(find(".spec.replicas"), [json!(3)]);
    assert_eq!(find(".metadata.labels.app"), [json!("web")]);
    assert_eq!(find(".spec.nothing"), [Value::Null]);
}

#[test]
fn a_path_in_braces_is_the_same_path() {
    assert_eq!(find("{.spec.replicas}"), [json!(3)]);
    assert_eq!(find("{$.spec.replicas}"), [json!(3)]);
}

#[test]
fn a_missing_key_finds_nothing() {
    assert!(find(".spec.missing").is_empty());
    assert!(find(".spec.missing.deeper").is_empty());
    assert!(find(".spec.replicas.deeper").is_empty());
    assert!(find(".spec.nothing.deeper").is_empty());
}

#[test]
fn an_index_picks_an_element_and_a_negative_one_counts_from_the_end() {
    assert_eq!(find(".spec.items[0].name"), [json!("a")]);
    assert_eq!(find(".spec.items[-1].name"), [json!("c")]);
    assert_eq!(find(".spec.items[-2].name"), [json!("b")]);
}

#[test]
fn an_index_out_of_range_finds_nothing() {
    assert!(find(".spec.items[3].name").is_empty());
    assert!(find(".spec.items[-4].name").is_empty());
}

#[test]
fn an_index_of_a_non_array_finds_nothing_but_a_null_is_skipped() {
    assert!(find(".spec.replicas[0]").is_empty());
    assert!(find(".spec.nothing[0]").is_empty());
}

#[test]
fn a_wildcard_finds_every_element_in_order() {
    assert_eq!(
        find(".spec.items[*].name"),
        [json!("a"), json!("b"), json!("c")]
    );
    assert_eq!(
        find(".spec.items.*.port"),
        [json!(80), json!(443), json!(8080)]
    );
    assert_eq!(find(".metadata.labels.*"), [json!("web"), json!("shop")]);
}

#[test]
fn a_slice_selects_a_range_with_an_optional_step() {
    assert_eq!(find(".spec.items[1:3].name"), [json!("b"), json!("c")]);
    assert_eq!(find(".spec.items[:2].name"), [json!("a"), json!("b")]);
    assert_eq!(find(".spec.items[::2].name"), [json!("a"), json!("c")]);
    assert_eq!(find(".spec.items[-2:].name"), [json!("b"), json!("c")]);
    assert!(find(".spec.items[1:1].name").is_empty());
    assert!(find(".spec.items[0:4].name").is_empty());
    assert!(find(".spec.items[::0].name").is_empty());
}

#[test]
fn a_union_finds_each_bracket_in_turn() {
    assert_eq!(find(".spec.items[2,0].name"), [json!("c"), json!("a")]);
    assert_eq!(find(".metadata['name', 'labels'].app"), [json!("web")]);
}

#[test]
fn a_quoted_key_needs_its_dots_escaped() {
    let name = [json!("shop")];
    assert_eq!(find(r".metadata.labels['app\.kubernetes\.io/name']"), name);
    assert_eq!(find(r".metadata.labels.app\.kubernetes\.io/name"), name);
    assert!(find(".metadata.labels['app.kubernetes.io/name']").is_empty());
    assert_eq!(find(".metadata['labels']['app']"), [json!("web")]);
}

#[test]
fn a_condition_filter_picks_the_ready_status() {
    let path = r#".status.conditions[?(@.type=="Ready")].status"#;
    assert_eq!(find(path), [json!("True")]);
    let spaced = r#".status.conditions[?( @.type == 'Ready' )].status"#;
    assert_eq!(find(spaced), [json!("True")]);
    let other = r#".status.conditions[?(@.type!="Ready")].type"#;
    assert_eq!(find(other), [json!("Available")]);
}

#[test]
fn numeric_filters_compare_integers_and_floats() {
    let names = |path: &str| find(&format!(".spec.items[?({path})].name"));
    assert_eq!(names("@.port>80"), [json!("b"), json!("c")]);
    assert_eq!(names("@.port>=443"), [json!("b"), json!("c")]);
    assert_eq!(names("@.port<443"), [json!("a")]);
    assert_eq!(names("@.port<=443"), [json!("a"), json!("b")]);
    assert_eq!(names("@.port==8080"), [json!("c")]);
    assert_eq!(names("@.weight>1.0"), [json!("a"), json!("b")]);
    assert_eq!(names("@.weight==-1.5"), Vec::<Value>::new());
}

#[test]
fn a_filter_compares_strings_by_bytes() {
    let names = find(r#".spec.items[?(@.name>"a")].name"#);
    assert_eq!(names, [json!("b"), json!("c")]);
}

#[test]
fn a_comparison_of_different_kinds_finds_nothing() {
    // Go's template `eq` refuses an integer against a float or a string.
    assert!(find(".spec.items[?(@.port==80.0)].name").is_empty());
    assert!(find(r#".spec.items[?(@.port=="80")].name"#).is_empty());
    assert!(find(".spec.items[?(@.weight>1)].name").is_empty());
}

#[test]
fn a_filter_without_comparison_keeps_the_elements_that_have_the_field() {
    let obj = json!({"items": [{"name": "a", "ready": true}, {"name": "b"}]});
    assert_eq!(jsonpath(".items[?(@.ready)].name", &obj), [json!("a")]);
    let trues = jsonpath(".items[?(@.ready==true)].name", &obj);
    assert_eq!(trues, [json!("a")]);
}

#[test]
fn a_filter_of_a_non_array_finds_nothing() {
    assert!(find(r#".spec[?(@.name=="a")]"#).is_empty());
    assert!(find(r#".spec.nothing[?(@.name=="a")]"#).is_empty());
}

#[test]
fn recursive_descent_finds_a_key_at_any_depth() {
    let names = find("..name");
    assert_eq!(names, [json!("web"), json!("a"), json!("b"), json!("c")]);
}

#[test]
fn literals_stand_for_each_current_value() {
    assert_eq!(find("'text'"), [json!("text")]);
    assert_eq!(find(r#""a\"b""#), [json!("a\"b")]);
}

#[test]
fn the_empty_path_is_the_whole_object() {
    assert_eq!(find(""), [obj()]);
}

#[test]
fn valid_paths_start_with_a_dot_and_parse() {
    for path in [
        ".spec.replicas",
        ".",
        ".spec.items[0].name",
        ".spec.items[*].name",
        ".spec.items[-1:]",
        ".spec.items[0,2]",
        r#".status.conditions[?(@.type=="Ready")].status"#,
        ".status.conditions[?(@.count>=2)].status",
        r".metadata.labels['app\.kubernetes\.io/name']",
        "..name",
    ] {
        assert!(is_valid_path(path), "{path}");
    }
}

#[test]
fn invalid_paths_are_rejected() {
    for path in [
        "",
        "spec.replicas",
        "{.spec.replicas}",
        ".spec.items[0",
        ".spec.items[a]",
        ".spec.items[1:2:3:4]",
        ".spec.items[?(@.type==\"Ready\"]",
        ".spec.items[?(@.type==\"Ready)]",
        ".spec....name",
        ".spec range",
        ".spec.items[0]}",
        ".spec |x",
    ] {
        assert!(!is_valid_path(path), "{path}");
    }
}
