//! Tests of the pod printer (`pods.rs`).

use serde_json::{Value, json};

use super::testing::{ago, now, strs};
use super::*;

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
fn pod_status_shows_the_most_telling_reason() {
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
fn pods_show_terminating_unknown_and_completed() {
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
fn pod_restarts_show_when_the_last_one_was() {
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
fn init_container_states_show_as_the_pod_status() {
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
fn sidecars_count_as_containers_and_a_completed_one_is_not_ready() {
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
fn pod_wide_columns_show_ips_nominated_node_and_readiness_gates() {
    let p = pod(
        json!({"containers": [{"name": "nginx"}], "readinessGates": [{"conditionType": "x"}, {"conditionType": "y"}]}),
        json!({"phase": "Running", "podIPs": [{"ip": "fd00::1"}], "nominatedNodeName": "node-2",
               "conditions": [{"type": "x", "status": "True"}, {"type": "y", "status": "False"}]}),
    );
    assert_eq!(pod_cells(&p)[5..], ["fd00::1", "<none>", "node-2", "1/2"]);
}
