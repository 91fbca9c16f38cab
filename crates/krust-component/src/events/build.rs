//! The core/v1 Event a record becomes, as client-go's `recorder.makeEvent` builds it: named
//! `<object>.<hex stamp>`, in the object's namespace (`default` for cluster-scoped objects).

use super::Record;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use std::sync::atomic::{AtomicI64, Ordering};

/// The namespace an Event about `object` lives in.
pub(super) fn namespace(object: &ObjectReference) -> String {
    object
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".to_string())
}

/// A new Event's name: the object's (or the component's) and a stamp, the nanoseconds of
/// `at` made larger than the last stamp of `stamps` so that two Events never share a name.
pub(super) fn name(
    object: &ObjectReference,
    component: &str,
    stamps: &AtomicI64,
    at: Timestamp,
) -> String {
    let nanos = i64::try_from(at.as_nanosecond()).unwrap_or(i64::MAX);
    let next = |last: i64| nanos.max(last.saturating_add(1));
    let last = stamps
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| Some(next(l)))
        .unwrap_or_else(|l| l);
    let stamp = next(last);
    let object = object.name.as_deref().unwrap_or(component);
    format!("{object}.{stamp:x}")
}

/// `at` to the second, as Event timestamps are written.
fn seconds(at: Timestamp) -> Time {
    Time(Timestamp::from_second(at.as_second()).unwrap_or(at))
}

/// The Event named `name` that `record`, made at `at` by `component`, is, seen `count` times.
pub(super) fn event(
    component: &str,
    record: Record,
    name: String,
    count: i32,
    at: Timestamp,
) -> Event {
    let instance = record.host.clone().unwrap_or_else(|| component.to_string());
    Event {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(namespace(&record.object)),
            ..Default::default()
        },
        involved_object: record.object,
        reason: Some(record.reason),
        message: Some(record.message),
        type_: Some(record.type_.as_str().to_string()),
        action: record.action,
        source: Some(EventSource {
            component: Some(component.to_string()),
            host: record.host,
        }),
        first_timestamp: Some(seconds(at)),
        last_timestamp: Some(seconds(at)),
        count: Some(count),
        reporting_component: Some(component.to_string()),
        reporting_instance: Some(instance),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::EventType;
    use super::*;
    use serde_json::json;

    fn pod() -> ObjectReference {
        ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some("web".into()),
            namespace: Some("shop".into()),
            uid: Some("u-1".into()),
            resource_version: Some("42".into()),
            ..Default::default()
        }
    }

    fn at() -> Timestamp {
        "2025-01-02T03:04:05.678Z".parse().unwrap()
    }

    #[test]
    fn an_event_carries_the_component_and_lands_in_the_object_namespace() {
        let record = Record::new(pod(), EventType::Warning, "Broke", "Broke it");
        let event = event("node-controller", record, "web.1".into(), 1, at());
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            json!({
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": "web.1", "namespace": "shop"},
                "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": "web",
                    "namespace": "shop", "uid": "u-1", "resourceVersion": "42"},
                "reason": "Broke",
                "message": "Broke it",
                "type": "Warning",
                "source": {"component": "node-controller"},
                "firstTimestamp": "2025-01-02T03:04:05Z",
                "lastTimestamp": "2025-01-02T03:04:05Z",
                "count": 1,
                "reportingComponent": "node-controller",
                "reportingInstance": "node-controller",
            })
        );
    }

    #[test]
    fn a_host_is_the_source_host_and_the_reporting_instance() {
        let record = Record {
            action: Some("Binding".into()),
            host: Some("node-1".into()),
            ..Record::new(pod(), EventType::Normal, "Started", "Started")
        };
        let event = event("kubelet", record, "web.1".into(), 1, at());
        let source = event.source.unwrap();
        assert_eq!(source.host.as_deref(), Some("node-1"));
        assert_eq!(event.reporting_instance.as_deref(), Some("node-1"));
        assert_eq!(event.action.as_deref(), Some("Binding"));
    }

    #[test]
    fn names_are_the_object_and_a_stamp_that_never_repeats() {
        let stamps = AtomicI64::new(0);
        let nanos = at().as_nanosecond();
        assert_eq!(name(&pod(), "c", &stamps, at()), format!("web.{nanos:x}"));
        let again = name(&pod(), "c", &stamps, at());
        assert_eq!(again, format!("web.{:x}", nanos + 1));
        let node = ObjectReference::default();
        assert!(name(&node, "c", &stamps, at()).starts_with("c."));
    }

    #[test]
    fn events_about_cluster_scoped_objects_live_in_default() {
        let node = ObjectReference {
            kind: Some("Node".into()),
            name: Some("n1".into()),
            ..Default::default()
        };
        assert_eq!(namespace(&node), "default");
        let empty = ObjectReference {
            namespace: Some(String::new()),
            ..node
        };
        assert_eq!(namespace(&empty), "default");
        assert_eq!(namespace(&pod()), "shop");
    }
}
