//! Tests of the node, namespace and lease printers (`cluster.rs`).

use serde_json::json;

use super::testing::{ago, col_names, meta, row};

#[test]
fn node_rows_show_status_roles_and_node_info() {
    assert_eq!(
        col_names("", "nodes"),
        [
            ("Name", 0),
            ("Status", 0),
            ("Roles", 0),
            ("Age", 0),
            ("Version", 0),
            ("Internal-IP", 1),
            ("External-IP", 1),
            ("OS-Image", 1),
            ("Kernel-Version", 1),
            ("Container-Runtime", 1)
        ]
    );
    let node = json!({"metadata": {"name": "node-1", "creationTimestamp": ago(3 * 86400),
        "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "worker", "node-role.kubernetes.io/": ""}},
        "spec": {"unschedulable": true},
        "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                   "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}, {"type": "Hostname", "address": "node-1"}],
                   "nodeInfo": {"kubeletVersion": "v1.32.4", "osImage": "Ubuntu", "kernelVersion": "6.1", "containerRuntimeVersion": "containerd://1.7"}}});
    assert_eq!(
        row("", "nodes", node),
        [
            "node-1",
            "Ready,SchedulingDisabled",
            "control-plane,worker",
            "3d",
            "v1.32.4",
            "10.0.0.1",
            "<none>",
            "Ubuntu",
            "6.1",
            "containerd://1.7"
        ]
    );
    let bare = json!({"metadata": {"name": "n"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
    assert_eq!(
        row("", "nodes", bare)[1..4],
        ["NotReady", "<none>", "<unknown>"]
    );
    assert_eq!(
        row("", "nodes", json!({"metadata": {"name": "n"}}))[7..],
        ["<unknown>", "<unknown>", "<unknown>"]
    );
    assert_eq!(
        row("", "nodes", json!({"metadata": {"name": "n"}}))[1],
        "Unknown"
    );
}

#[test]
fn namespace_and_lease_rows_show_phase_and_holder() {
    assert_eq!(
        col_names("", "namespaces"),
        [("Name", 0), ("Status", 0), ("Age", 0)]
    );
    assert_eq!(
        row(
            "",
            "namespaces",
            json!({"metadata": meta("default"), "status": {"phase": "Active"}})
        ),
        ["default", "Active", "5s"]
    );
    assert_eq!(
        col_names("coordination.k8s.io", "leases"),
        [("Name", 0), ("Holder", 0), ("Age", 0)]
    );
    assert_eq!(
        row(
            "coordination.k8s.io",
            "leases",
            json!({"metadata": meta("node-1"), "spec": {"holderIdentity": "node-1"}})
        ),
        ["node-1", "node-1", "5s"]
    );
}
