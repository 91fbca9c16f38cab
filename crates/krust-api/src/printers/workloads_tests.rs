//! Tests of the workload printers (`workloads.rs`).

use serde_json::json;

use super::testing::{ago, col_names, meta, now, row};
use super::*;

#[test]
fn deployment_and_replicaset_rows_show_replicas_containers_and_selector() {
    assert_eq!(
        col_names("apps", "deployments"),
        [
            ("Name", 0),
            ("Ready", 0),
            ("Up-to-date", 0),
            ("Available", 0),
            ("Age", 0),
            ("Containers", 1),
            ("Images", 1),
            ("Selector", 1)
        ]
    );
    let tmpl = json!({"spec": {"containers": [{"name": "nginx", "image": "nginx:1.16"}, {"name": "side", "image": "busybox"}]}});
    let d = json!({"metadata": meta("nginx-depl"), "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "nginx-depl"}}, "template": tmpl},
                   "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
    assert_eq!(
        row("apps", "deployments", d.clone()),
        [
            "nginx-depl",
            "2/3",
            "3",
            "2",
            "5s",
            "nginx,side",
            "nginx:1.16,busybox",
            "app=nginx-depl"
        ]
    );
    let cells = cells("apps", "deployments", &d, now());
    assert!(cells[2].is_i64() && cells[3].is_i64());
    let fresh = json!({"metadata": meta("d"), "spec": {"template": {}}});
    assert_eq!(
        row("apps", "deployments", fresh),
        ["d", "0/1", "0", "0", "5s", "", "", ""]
    );

    let cols = columns("apps", "replicasets");
    assert_eq!(
        cols.iter().map(|c| c.kind).collect::<Vec<_>>(),
        [
            "string", "integer", "integer", "integer", "string", "string", "string", "string"
        ]
    );
    let rs = json!({"metadata": meta("nginx-7c5"), "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "nginx", "pod-template-hash": "7c5"}}, "template": tmpl},
                    "status": {"replicas": 1, "readyReplicas": 1}});
    assert_eq!(
        row("apps", "replicasets", rs),
        [
            "nginx-7c5",
            "1",
            "1",
            "1",
            "5s",
            "nginx,side",
            "nginx:1.16,busybox",
            "app=nginx,pod-template-hash=7c5"
        ]
    );
    let rs0 = json!({"metadata": meta("r"), "spec": {"replicas": 0, "template": {}}});
    assert_eq!(row("apps", "replicasets", rs0)[1..4], ["0", "0", "0"]);
    assert_eq!(
        row("apps", "replicasets", json!({"metadata": meta("r")}))[7],
        "<none>"
    );
}

#[test]
fn statefulset_daemonset_rc_job_and_cronjob_rows_match_kubectl() {
    let ss = json!({"metadata": meta("web"), "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}},
                    "status": {"readyReplicas": 1}});
    assert_eq!(
        row("apps", "statefulsets", ss),
        ["web", "1/2", "5s", "c", "i"]
    );
    let ds = json!({"metadata": meta("ds"), "spec": {"selector": {"matchLabels": {"a": "b"}},
                    "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}, "containers": []}}},
                    "status": {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 1, "updatedNumberScheduled": 2, "numberAvailable": 1}});
    assert_eq!(
        row("apps", "daemonsets", ds),
        [
            "ds",
            "2",
            "2",
            "1",
            "2",
            "1",
            "kubernetes.io/os=linux",
            "5s",
            "",
            "",
            "a=b"
        ]
    );
    let rc = json!({"metadata": meta("rc"), "spec": {"replicas": 2, "selector": {"app": "x"}}, "status": {"replicas": 2, "readyReplicas": 2}});
    assert_eq!(
        row("", "replicationcontrollers", rc),
        ["rc", "2", "2", "2", "5s", "", "", "app=x"]
    );
    let job = json!({"metadata": meta("pi"), "spec": {"completions": 1, "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}},
                     "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}}},
                     "status": {"succeeded": 1, "startTime": ago(100), "completionTime": ago(40),
                                "conditions": [{"type": "Complete", "status": "True"}]}});
    assert_eq!(
        row("batch", "jobs", job),
        [
            "pi",
            "Complete",
            "1/1",
            "60s",
            "5s",
            "pi",
            "perl",
            "batch.kubernetes.io/controller-uid=u"
        ]
    );
    let running = json!({"metadata": meta("j"), "spec": {"parallelism": 2}, "status": {"startTime": ago(200)}});
    assert_eq!(
        row("batch", "jobs", running)[1..4],
        ["Running", "0/1 of 2", "3m20s"]
    );
    let cj = json!({"metadata": meta("hello"), "spec": {"schedule": "*/1 * * * *", "suspend": false,
                    "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "hello", "image": "busybox"}]}}}}}});
    assert_eq!(
        row("batch", "cronjobs", cj),
        [
            "hello",
            "*/1 * * * *",
            "<none>",
            "False",
            "0",
            "<none>",
            "5s",
            "hello",
            "busybox",
            "<none>"
        ]
    );
    assert_eq!(columns("batch", "cronjobs")[3].kind, "boolean");
}
