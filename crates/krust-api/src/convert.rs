//! Conversion between a served version and the stored one.
//!
//! `events.k8s.io/v1` Events are a second view of the stored `v1` Events, with some fields
//! renamed; a custom resource's versions differ only by `apiVersion` (conversion strategy
//! `None`), its objects stored at its storage version.

use crate::resources::{Resource, find};
use serde_json::{Map, Value, json};

/// `events.k8s.io/v1` field ↔ `v1` field.
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("reportingController", "reportingComponent"),
];

fn is_events_v1(resource: &Resource) -> bool {
    resource.group == "events.k8s.io"
}

/// Whether objects of `resource` are stored as they are served (no conversion).
pub fn is_stored_as_served(resource: &'static Resource) -> bool {
    std::ptr::eq(storage_resource(resource), resource)
        && resource
            .custom
            .is_none_or(|c| c.storage_version == resource.version)
}

/// The resource whose objects are actually stored for `resource`.
pub fn storage_resource(resource: &'static Resource) -> &'static Resource {
    if is_events_v1(resource) {
        find("", "v1", "events").expect("core events are served")
    } else {
        resource
    }
}

fn rename(
    obj: Value,
    pairs: impl Iterator<Item = (&'static str, &'static str)>,
    api_version: &str,
) -> Value {
    let Value::Object(mut m) = obj else {
        return obj;
    };
    let mut out = Map::new();
    for (from, to) in pairs {
        if let Some(v) = m.remove(from) {
            out.insert(to.to_string(), v);
        }
    }
    m.extend(out);
    m.insert("apiVersion".into(), json!(api_version));
    m.insert("kind".into(), json!("Event"));
    Value::Object(m)
}

fn with_api_version(mut obj: Value, api_version: String) -> Value {
    if let Some(m) = obj.as_object_mut() {
        m.insert("apiVersion".into(), Value::String(api_version));
    }
    obj
}

/// Converts an object as served by `resource` into its stored form.
pub fn to_storage(resource: &Resource, obj: Value) -> Value {
    if resource.custom.is_some() {
        return with_api_version(obj, resource.storage_api_version());
    }
    if !is_events_v1(resource) {
        return obj;
    }
    rename(obj, EVENT_FIELDS.iter().copied(), "v1")
}

/// Converts a stored object into the form `resource` serves.
pub fn from_storage(resource: &Resource, obj: Value) -> Value {
    if resource.custom.is_some() {
        return with_api_version(obj, resource.api_version());
    }
    if !is_events_v1(resource) {
        return obj;
    }
    rename(
        obj,
        EVENT_FIELDS.iter().map(|(a, b)| (*b, *a)),
        "events.k8s.io/v1",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip() {
        let new = find("events.k8s.io", "v1", "events").unwrap();
        let core = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
            "involvedObject": {"kind": "Pod", "name": "p"}, "message": "hi", "reason": "Started", "count": 2});
        let served = from_storage(new, core.clone());
        assert_eq!(served["regarding"]["name"], "p");
        assert_eq!(served["note"], "hi");
        assert_eq!(served["deprecatedCount"], 2);
        assert_eq!(served["apiVersion"], "events.k8s.io/v1");
        assert_eq!(to_storage(new, served), core);
        assert_eq!(storage_resource(new).group, "");
    }
}
