//! Tests of the event printer (`events.rs`), for both event APIs.

use serde_json::json;

use super::testing::{ago, col_names, meta, row};
use super::*;

#[test]
fn event_rows_read_both_event_apis_and_series() {
    let want_cols = [
        ("Last Seen", 0),
        ("Type", 0),
        ("Reason", 0),
        ("Object", 0),
        ("Subobject", 1),
        ("Source", 1),
        ("Message", 0),
        ("First Seen", 1),
        ("Count", 1),
        ("Name", 1),
    ];
    assert_eq!(col_names("", "events"), want_cols);
    assert_eq!(col_names("events.k8s.io", "events"), want_cols);
    assert_eq!(columns("", "events")[9].format, "name");
    let ev = json!({"metadata": meta("nginx.17a"), "involvedObject": {"kind": "Pod", "name": "nginx", "fieldPath": "spec.containers{nginx}"},
                    "reason": "Pulled", "message": " Successfully pulled image \"nginx\"\n", "type": "Normal",
                    "source": {"component": "kubelet", "host": "node-1"}, "firstTimestamp": ago(120), "lastTimestamp": ago(30), "count": 3});
    assert_eq!(
        row("", "events", ev),
        [
            "30s",
            "Normal",
            "Pulled",
            "pod/nginx",
            "spec.containers{nginx}",
            "kubelet, node-1",
            "Successfully pulled image \"nginx\"",
            "2m",
            "3",
            "nginx.17a"
        ]
    );
    let new = json!({"metadata": meta("nginx.17b"), "regarding": {"kind": "Pod", "name": "nginx"}, "note": "Successfully assigned default/nginx to node-1",
                     "reason": "Scheduled", "type": "Normal", "eventTime": "2024-01-01T11:59:50.123456Z", "reportingController": "default-scheduler",
                     "reportingInstance": "default-scheduler-node-1", "action": "Binding"});
    assert_eq!(
        row("events.k8s.io", "events", new),
        [
            "9s",
            "Normal",
            "Scheduled",
            "pod/nginx",
            "",
            "default-scheduler, default-scheduler-node-1",
            "Successfully assigned default/nginx to node-1",
            "9s",
            "1",
            "nginx.17b"
        ]
    );
    let series = json!({"metadata": meta("e"), "involvedObject": {"kind": "Node"}, "eventTime": ago(600),
                        "series": {"count": 7, "lastObservedTime": ago(60)}});
    let r = row("", "events", series);
    assert_eq!(
        (r[0].as_str(), r[3].as_str(), r[7].as_str(), r[8].as_str()),
        ("60s", "node", "10m", "7")
    );
    assert_eq!(
        row("", "events", json!({"metadata": meta("e")}))[0],
        "<unknown>"
    );
}
