//! The event printer (`printEvent`), for `v1` events and `events.k8s.io/v1` events
//! alike (the API server prints both from the same internal type).

use jiff::Timestamp;
use serde_json::Value;

use super::Column;
use super::docs;
use super::util::{NAME_COL, age, col, get, name_cell, parse_time, present, str_at};

pub(super) const COLUMNS: &[Column] = &[
    col("Last Seen", docs::EVENT_LAST_SEEN, 0),
    col("Type", docs::EVENT_TYPE, 0),
    col("Reason", docs::EVENT_REASON, 0),
    col("Object", docs::EVENT_OBJECT, 0),
    col("Subobject", docs::EVENT_SUBOBJECT, 1),
    col("Source", docs::EVENT_SOURCE, 1),
    col("Message", docs::EVENT_MESSAGE, 0),
    col("First Seen", docs::EVENT_FIRST_SEEN, 1),
    col("Count", docs::EVENT_COUNT, 1),
    super::Column {
        priority: 1,
        ..NAME_COL
    },
];

/// The first non-empty string among the paths (core name first, then the
/// `events.k8s.io` one).
fn first<'a>(ev: &'a Value, paths: &[&str]) -> &'a str {
    paths
        .iter()
        .map(|p| str_at(ev, p))
        .find(|s| !s.is_empty())
        .unwrap_or_default()
}

/// A time field, if set (not absent, not Go's zero time).
fn time<'a>(ev: &'a Value, paths: &[&str]) -> Option<&'a str> {
    paths
        .iter()
        .filter_map(|p| get(ev, p).and_then(Value::as_str))
        .find(|s| parse_time(Some(s)).is_some())
}

pub(super) fn cells(ev: &Value, now: Timestamp) -> Vec<Value> {
    let first_seen = match time(ev, &["firstTimestamp", "deprecatedFirstTimestamp"]) {
        Some(t) => age(Some(t), now),
        None => age(time(ev, &["eventTime"]), now),
    };
    let mut last_seen = match time(ev, &["lastTimestamp", "deprecatedLastTimestamp"]) {
        Some(t) => age(Some(t), now),
        None => first_seen.clone(),
    };
    let mut count = ["count", "deprecatedCount"]
        .iter()
        .find_map(|p| get(ev, p).and_then(Value::as_i64).filter(|c| *c != 0))
        .unwrap_or_default();
    if present(ev, "series") {
        last_seen = age(
            get(ev, "series.lastObservedTime").and_then(Value::as_str),
            now,
        );
        count = get(ev, "series.count")
            .and_then(Value::as_i64)
            .unwrap_or_default();
    } else if count == 0 {
        // Singleton events don't have a count set in the new API.
        count = 1;
    }

    let kind = first(ev, &["involvedObject.kind", "regarding.kind"]).to_lowercase();
    let target = match first(ev, &["involvedObject.name", "regarding.name"]) {
        "" => kind,
        name => format!("{kind}/{name}"),
    };
    let component = first(
        ev,
        &[
            "source.component",
            "deprecatedSource.component",
            "reportingComponent",
            "reportingController",
        ],
    );
    let instance = first(
        ev,
        &["source.host", "deprecatedSource.host", "reportingInstance"],
    );
    let source = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };

    vec![
        Value::from(last_seen),
        Value::from(str_at(ev, "type")),
        Value::from(str_at(ev, "reason")),
        Value::from(target),
        Value::from(first(
            ev,
            &["involvedObject.fieldPath", "regarding.fieldPath"],
        )),
        Value::from(source),
        Value::from(first(ev, &["message", "note"]).trim()),
        Value::from(first_seen),
        Value::from(count),
        name_cell(ev),
    ]
}
