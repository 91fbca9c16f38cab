//! Fixtures the printer tests share: a fixed `now`, times before it, and rows as strings.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::*;

/// The fixed time the tests print against.
pub(super) fn now() -> Timestamp {
    "2024-01-01T12:00:00Z".parse().unwrap()
}

/// An RFC 3339 time `secs` seconds before [`now`].
pub(super) fn ago(secs: i64) -> String {
    (now() - SignedDuration::from_secs(secs)).to_string()
}

/// Cells as strings (numbers and booleans as their JSON text).
pub(super) fn strs(cells: &[Value]) -> Vec<String> {
    cells
        .iter()
        .map(|c| {
            c.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| c.to_string())
        })
        .collect()
}

/// Metadata of an object `name` in `default`, created 5 s before [`now`].
pub(super) fn meta(name: &str) -> Value {
    json!({"name": name, "namespace": "default", "creationTimestamp": ago(5)})
}

/// The row of `obj` as strings, checked to have one cell per column.
pub(super) fn row(group: &str, resource: &str, obj: Value) -> Vec<String> {
    let c = cells(group, resource, &obj, now());
    assert_eq!(
        c.len(),
        columns(group, resource).len(),
        "{group}/{resource}"
    );
    strs(&c)
}

/// The (name, priority) of each column of a resource.
pub(super) fn col_names(group: &str, resource: &str) -> Vec<(&'static str, u8)> {
    columns(group, resource)
        .iter()
        .map(|c| (c.name, c.priority))
        .collect()
}
