//! Tests of ages, columns and the pod printer.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::*;

pub(super) fn now() -> Timestamp {
    "2024-01-01T12:00:00Z".parse().unwrap()
}

/// An RFC 3339 time `secs` seconds before [`now`].
pub(super) fn ago(secs: i64) -> String {
    (now() - SignedDuration::from_secs(secs)).to_string()
}

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

#[test]
fn human_durations_match_kubernetes() {
    let h = |s: i64| human_duration(SignedDuration::from_secs(s));
    let cases = [
        (-3, "<invalid>"),
        (-2, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (5, "5s"),
        (59, "59s"),
        (119, "119s"),
        (120, "2m"),
        (150, "2m30s"),
        (599, "9m59s"),
        (600, "10m"),
        (75 * 60, "75m"),
        (179 * 60 + 59, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 5 * 60, "3h5m"),
        (7 * 3600 + 59 * 60, "7h59m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (7 * 86400 + 23 * 3600, "7d23h"),
        (8 * 86400, "8d"),
        (729 * 86400, "729d"),
        (730 * 86400, "2y"),
        (733 * 86400, "2y3d"),
        (8 * 365 * 86400, "8y"),
    ];
    for (secs, want) in cases {
        assert_eq!(h(secs), want, "{secs}s");
    }
    // Sub-second deviations truncate toward zero, as Go's int(d.Seconds()) does.
    assert_eq!(human_duration(SignedDuration::from_millis(-1999)), "0s");
    assert_eq!(human_duration(SignedDuration::from_millis(1999)), "1s");
}

#[test]
fn ages_since_timestamps() {
    assert_eq!(age(Some(&ago(0)), now()), "0s");
    assert_eq!(age(Some(&ago(5)), now()), "5s");
    assert_eq!(age(Some(&ago(3 * 60)), now()), "3m");
    assert_eq!(age(Some("2024-01-01T11:59:59.5Z"), now()), "0s");
    assert_eq!(age(None, now()), "<unknown>");
    assert_eq!(age(Some(""), now()), "<unknown>");
    assert_eq!(age(Some("0001-01-01T00:00:00Z"), now()), "<unknown>");
    assert_eq!(
        age(
            Some(&(now() + SignedDuration::from_secs(5)).to_string()),
            now()
        ),
        "<invalid>"
    );
}

#[test]
fn pod_columns_match_the_real_printer() {
    let cols = columns("", "pods");
    let names: Vec<_> = cols.iter().map(|c| (c.name, c.priority)).collect();
    assert_eq!(
        names,
        [
            ("Name", 0),
            ("Ready", 0),
            ("Status", 0),
            ("Restarts", 0),
            ("Age", 0),
            ("IP", 1),
            ("Node", 1),
            ("Nominated Node", 1),
            ("Readiness Gates", 1)
        ]
    );
    assert_eq!(cols[0].format, "name");
    assert!(
        cols[0]
            .description
            .starts_with("Name must be unique within a namespace.")
    );
    assert!(cols.iter().all(|c| c.kind == "string"));
    assert!(
        cols[4]
            .description
            .contains("RFC3339 form and is in UTC.\n\nPopulated by the system.")
    );
    assert_eq!(
        cols[3].to_json(),
        json!({"name": "Restarts", "type": "string", "format": "", "priority": 0,
               "description": "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."})
    );
}

fn pod(spec: Value, status: Value) -> Value {
    json!({"metadata": {"name": "nginx", "namespace": "default", "creationTimestamp": ago(5)},
           "spec": spec, "status": status})
}

fn pod_cells(p: &Value) -> Vec<String> {
    strs(&cells("", "pods", p, now()))
}

fn one_container() -> Value {
    json!({"containers": [{"name": "nginx", "image": "nginx"}]})
}

#[test]
fn running_pod_row_matches_the_sample() {
    let p = pod(
        json!({"containers": [{"name": "nginx", "image": "nginx"}], "nodeName": "node-1"}),
        json!({"phase": "Running", "podIP": "10.244.0.10", "podIPs": [{"ip": "10.244.0.10"}],
               "conditions": [{"type": "Ready", "status": "True"}],
               "containerStatuses": [{"name": "nginx", "ready": true, "restartCount": 0,
                                      "state": {"running": {"startedAt": ago(5)}}}]}),
    );
    assert_eq!(
        pod_cells(&p),
        [
            "nginx",
            "1/1",
            "Running",
            "0",
            "5s",
            "10.244.0.10",
            "node-1",
            "<none>",
            "<none>"
        ]
    );
}

#[test]
fn pod_status_reasons() {
    let status = |s: Value| pod_cells(&pod(one_container(), s))[2].clone();
    assert_eq!(status(json!({"phase": "Pending"})), "Pending");
    assert_eq!(
        status(
            json!({"phase": "Pending", "containerStatuses": [{"name": "nginx", "ready": false,
            "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]})
        ),
        "ContainerCreating"
    );
    assert_eq!(
        status(
            json!({"phase": "Running", "containerStatuses": [{"name": "nginx",
            "state": {"terminated": {"exitCode": 137}}}]})
        ),
        "ExitCode:137"
    );
    assert_eq!(
        status(
            json!({"phase": "Running", "containerStatuses": [{"name": "nginx",
            "state": {"terminated": {"exitCode": 0, "signal": 9}}}]})
        ),
        "Signal:9"
    );
    assert_eq!(
        status(json!({"phase": "Failed", "reason": "Evicted"})),
        "Evicted"
    );
    assert_eq!(
        status(
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "SchedulingGated"}]})
        ),
        "SchedulingGated"
    );
}

#[test]
fn pod_terminating_and_unknown() {
    let mut p = pod(one_container(), json!({"phase": "Running"}));
    p["metadata"]["deletionTimestamp"] = json!(ago(1));
    assert_eq!(pod_cells(&p)[2], "Terminating");
    p["status"] = json!({"phase": "Running", "reason": "NodeLost"});
    assert_eq!(pod_cells(&p)[2], "Unknown");
    p["status"] = json!({"phase": "Succeeded", "containerStatuses": [{"name": "nginx",
        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]});
    assert_eq!(pod_cells(&p)[2], "Completed");
}

#[test]
fn pod_restarts_with_last_restart_time() {
    let p = pod(
        one_container(),
        json!({"phase": "Running", "containerStatuses": [{"name": "nginx", "ready": false,
            "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(300)}}}]}),
    );
    let c = pod_cells(&p);
    assert_eq!(
        (c[1].as_str(), c[2].as_str(), c[3].as_str()),
        ("0/1", "CrashLoopBackOff", "2 (5m ago)")
    );
    // Restarts without a recorded termination time show the count alone.
    let p = pod(
        one_container(),
        json!({"phase": "Running", "containerStatuses": [{"name": "nginx",
        "ready": true, "restartCount": 3, "state": {"running": {}}}]}),
    );
    assert_eq!(pod_cells(&p)[3], "3");
}

#[test]
fn pod_init_container_reasons() {
    let spec = json!({"initContainers": [{"name": "a"}, {"name": "b"}],
                      "containers": [{"name": "nginx"}]});
    let status = |init: Value| {
        pod_cells(&pod(
            spec.clone(),
            json!({"phase": "Pending", "initContainerStatuses": init}),
        ))[2]
            .clone()
    };
    assert_eq!(
        status(
            json!([{"name": "a", "state": {"terminated": {"exitCode": 0}}},
                      {"name": "b", "state": {"waiting": {"reason": "PodInitializing"}}}])
        ),
        "Init:1/2"
    );
    assert_eq!(
        status(json!([{"name": "a", "state": {"waiting": {"reason": "ErrImagePull"}}}])),
        "Init:ErrImagePull"
    );
    assert_eq!(
        status(json!([{"name": "a", "state": {"terminated": {"exitCode": 1}}}])),
        "Init:ExitCode:1"
    );
    assert_eq!(
        status(json!([{"name": "a", "state": {"terminated": {"exitCode": 1, "signal": 9}}}])),
        "Init:Signal:9"
    );
    assert_eq!(
        status(json!([{"name": "a", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}])),
        "Init:Error"
    );
    assert_eq!(
        status(json!([{"name": "a", "state": {"running": {}}}])),
        "Init:0/2"
    );
}

#[test]
fn pod_with_sidecar_and_completed_containers() {
    let p = pod(
        json!({"initContainers": [{"name": "side", "restartPolicy": "Always"}],
               "containers": [{"name": "app"}]}),
        json!({"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
               "initContainerStatuses": [{"name": "side", "started": true, "ready": true, "restartCount": 1,
                                          "state": {"running": {}}}],
               "containerStatuses": [{"name": "app", "ready": true, "state": {"running": {}}}]}),
    );
    let c = pod_cells(&p);
    assert_eq!(
        (c[1].as_str(), c[2].as_str(), c[3].as_str()),
        ("2/2", "Running", "1")
    );

    let p = pod(
        json!({"containers": [{"name": "a"}, {"name": "b"}]}),
        json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
               "containerStatuses": [
                   {"name": "a", "ready": true, "state": {"running": {}}},
                   {"name": "b", "ready": false, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
    );
    let c = pod_cells(&p);
    assert_eq!((c[1].as_str(), c[2].as_str()), ("1/2", "NotReady"));
}

#[test]
fn pod_wide_columns() {
    let p = pod(
        json!({"containers": [{"name": "nginx"}], "readinessGates": [{"conditionType": "x"}, {"conditionType": "y"}]}),
        json!({"phase": "Running", "podIPs": [{"ip": "fd00::1"}], "nominatedNodeName": "node-2",
               "conditions": [{"type": "x", "status": "True"}, {"type": "y", "status": "False"}]}),
    );
    assert_eq!(pod_cells(&p)[5..], ["fd00::1", "<none>", "node-2", "1/2"]);
}
