//! Helpers shared by the printers: JSON access, time formatting as Kubernetes'
//! `duration.HumanDuration`, container layout.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value};

use super::Column;

/// Seconds from the Unix epoch to Go's zero `time.Time` (0001-01-01T00:00:00Z).
const GO_ZERO_TIME_SECS: i64 = -62_135_596_800;

/// A string column with no format.
pub(super) const fn col(name: &'static str, description: &'static str, priority: u8) -> Column {
    Column {
        name,
        kind: "string",
        format: "",
        description,
        priority,
    }
}

/// An integer column with no format.
pub(super) const fn int_col(name: &'static str, description: &'static str, priority: u8) -> Column {
    Column {
        name,
        kind: "integer",
        format: "",
        description,
        priority,
    }
}

/// The `Name` column every printer starts with.
pub(super) const NAME_COL: Column = Column {
    name: "Name",
    kind: "string",
    format: "name",
    description: super::docs::NAME,
    priority: 0,
};
/// The `Age` column.
pub(super) const AGE_COL: Column = col("Age", super::docs::CREATION_TIMESTAMP, 0);
/// The `Containers` column of workloads (`-o wide`).
pub(super) const CONTAINERS_COL: Column = col("Containers", super::docs::CONTAINERS, 1);
/// The `Images` column of workloads (`-o wide`).
pub(super) const IMAGES_COL: Column = col("Images", super::docs::IMAGES, 1);

/// The value at a dotted path (`"status.phase"`); array elements by index.
pub(super) fn get<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| match v {
        Value::Array(a) => k.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => v.get(k),
    })
}

/// The string at a path, `""` if absent or not a string.
pub(super) fn str_at<'a>(v: &'a Value, path: &str) -> &'a str {
    get(v, path).and_then(Value::as_str).unwrap_or_default()
}

/// The integer at a path, `0` if absent.
pub(super) fn int_at(v: &Value, path: &str) -> i64 {
    get(v, path).and_then(Value::as_i64).unwrap_or_default()
}

/// The array at a path, empty if absent.
pub(super) fn arr_at<'a>(v: &'a Value, path: &str) -> &'a [Value] {
    get(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The object at a path, if any.
pub(super) fn obj_at<'a>(v: &'a Value, path: &str) -> Option<&'a Map<String, Value>> {
    get(v, path).and_then(Value::as_object)
}

/// The number of entries of the object or array at a path.
pub(super) fn len_at(v: &Value, path: &str) -> i64 {
    match get(v, path) {
        Some(Value::Object(m)) => m.len() as i64,
        Some(Value::Array(a)) => a.len() as i64,
        _ => 0,
    }
}

/// Whether a non-null value is present at the path (a Go pointer field being set).
pub(super) fn present(v: &Value, path: &str) -> bool {
    get(v, path).is_some_and(|v| !v.is_null())
}

/// `metadata.name` as a cell.
pub(super) fn name_cell(v: &Value) -> Value {
    Value::from(str_at(v, "metadata.name"))
}

/// The age of the object (`metadata.creationTimestamp`) as a cell.
pub(super) fn age_cell(v: &Value, now: Timestamp) -> Value {
    Value::from(age(
        get(v, "metadata.creationTimestamp").and_then(Value::as_str),
        now,
    ))
}

/// Parses an RFC 3339 time; `None` when absent, unparsable or Go's zero time.
pub(super) fn parse_time(s: Option<&str>) -> Option<Timestamp> {
    let ts: Timestamp = s?.parse().ok()?;
    (ts.as_second() > GO_ZERO_TIME_SECS || ts.subsec_nanosecond() != 0).then_some(ts)
}

/// Kubernetes' `duration.HumanDuration`: `"0s"`, `"59s"`, `"119s"`, `"2m"`, `"2m30s"`,
/// `"10m"`, `"75m"`, `"3h"`, `"3h5m"`, `"8h"`, `"47h"`, `"2d"`, `"7d23h"`, `"8d"`,
/// `"2y"`, `"2y3d"`, `"8y"`. Durations below -1s are `"<invalid>"`.
pub fn human_duration(d: SignedDuration) -> String {
    let seconds = d.as_secs();
    if seconds < -1 {
        return "<invalid>".into();
    } else if seconds < 0 {
        return "0s".into();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    } else if hours < 48 {
        return format!("{hours}h");
    } else if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    } else if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// The time since an RFC 3339 timestamp as Kubernetes prints it
/// (`translateTimestampSince`): [`human_duration`] of `now - timestamp`, or
/// `"<unknown>"` when the timestamp is absent (or Go's zero time, or unparsable).
pub fn age(timestamp: Option<&str>, now: Timestamp) -> String {
    match parse_time(timestamp) {
        Some(ts) => human_duration(now.duration_since(ts)),
        None => "<unknown>".into(),
    }
}

/// `layoutContainerCells`: container names and images, each joined by `,`.
pub(super) fn layout_containers(containers: &[Value]) -> (String, String) {
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, "name")).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, "image")).collect();
    (names.join(","), images.join(","))
}

/// `list + " + N more..."` for lists cut at `max`, `"<unset>"` for empty ones
/// (`listWithMoreString`).
pub(super) fn list_with_more(list: &[String], more: bool, count: usize, max: usize) -> String {
    let ret = list.join(",");
    if more {
        return format!("{ret} + {} more...", count - max);
    }
    if ret.is_empty() {
        "<unset>".into()
    } else {
        ret
    }
}

/// A condition's `status` by `type` in a conditions array, if present.
pub(super) fn condition_status<'a>(conditions: &'a [Value], kind: &str) -> Option<&'a str> {
    conditions
        .iter()
        .find(|c| str_at(c, "type") == kind)
        .map(|c| str_at(c, "status"))
}
