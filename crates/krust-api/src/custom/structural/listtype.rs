//! `x-kubernetes-list-type: set|map` uniqueness (apiextensions-apiserver's
//! `schema/listtype`).

use super::render::{self, shown};
use super::walk;
use crate::status::Cause;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The causes of the sets and maps in `obj`.
pub(super) fn validate(schema: &Value, obj: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    walk(schema, obj, "", &mut |s, x, path| {
        let Value::Array(list) = x else {
            return;
        };
        match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => {
                for i in repeated(list) {
                    out.push(render::duplicate(format!("{path}[{i}]"), &list[i]));
                }
            }
            Some("map") => map_list(s, list, path, &mut out),
            _ => {}
        }
    });
    out
}

/// The indices where a value shows up for the second time (once per repeated value).
/// Values are compared as JSON (so `1` and `1.0` differ, as Go's `int64` and `float64` do).
fn repeated(list: &[Value]) -> Vec<usize> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let times = seen.entry(v.to_string()).or_default();
        *times += 1;
        if *times == 2 {
            out.push(i);
        }
    }
    out
}

/// A list-type map: objects (or nulls) whose `x-kubernetes-list-map-keys` values are
/// unique; a duplicate is shown as the map of its key fields.
fn map_list(s: &Value, list: &[Value], path: &str, out: &mut Vec<Cause>) {
    if let Some(i) = list.iter().position(|x| !x.is_null() && !x.is_object()) {
        let why = "must be an object for an array of list-type map";
        out.push(render::invalid(
            format!("{path}[{i}]"),
            shown(&list[i]),
            why,
        ));
        return;
    }
    let names: Vec<&str> = match s.get("x-kubernetes-list-map-keys") {
        Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let keys: Vec<Value> = list
        .iter()
        .map(|x| {
            let present = names
                .iter()
                .filter_map(|n| Some((n.to_string(), x.get(*n)?.clone())));
            Value::Object(present.collect::<Map<String, Value>>())
        })
        .collect();
    for i in repeated(&keys) {
        out.push(render::duplicate(format!("{path}[{i}]"), &keys[i]));
    }
}
