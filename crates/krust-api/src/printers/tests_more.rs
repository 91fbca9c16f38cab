//! Tests of the printers other than pods.

use serde_json::{Value, json};

use super::tests::{ago, now, strs};
use super::*;

pub(super) fn meta(name: &str) -> Value {
    json!({"name": name, "namespace": "default", "creationTimestamp": ago(5)})
}

pub(super) fn row(group: &str, resource: &str, obj: Value) -> Vec<String> {
    let c = cells(group, resource, &obj, now());
    assert_eq!(
        c.len(),
        columns(group, resource).len(),
        "{group}/{resource}"
    );
    strs(&c)
}

pub(super) fn col_names(group: &str, resource: &str) -> Vec<(&'static str, u8)> {
    columns(group, resource)
        .iter()
        .map(|c| (c.name, c.priority))
        .collect()
}

#[test]
fn nodes() {
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
fn namespaces_and_leases() {
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

#[test]
fn services() {
    assert_eq!(
        col_names("", "services"),
        [
            ("Name", 0),
            ("Type", 0),
            ("Cluster-IP", 0),
            ("External-IP", 0),
            ("Port(s)", 0),
            ("Age", 0),
            ("Selector", 1)
        ]
    );
    let svc = |spec: Value, status: Value| {
        row(
            "",
            "services",
            json!({"metadata": meta("s"), "spec": spec, "status": status}),
        )
    };
    assert_eq!(
        svc(
            json!({"type": "ClusterIP", "clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"], "ports": [{"port": 443, "protocol": "TCP", "targetPort": 6443}]}),
            json!({})
        ),
        [
            "s",
            "ClusterIP",
            "10.96.0.1",
            "<none>",
            "443/TCP",
            "5s",
            "<none>"
        ]
    );
    assert_eq!(
        svc(
            json!({"type": "NodePort", "clusterIPs": ["10.96.0.9"], "selector": {"app": "nginx-depl"},
                   "ports": [{"port": 8080, "protocol": "TCP", "nodePort": 30080}, {"port": 53, "protocol": "UDP"}]}),
            json!({})
        ),
        [
            "s",
            "NodePort",
            "10.96.0.9",
            "<none>",
            "8080:30080/TCP,53/UDP",
            "5s",
            "app=nginx-depl"
        ]
    );
    assert_eq!(
        svc(
            json!({"type": "LoadBalancer", "clusterIP": "10.0.0.1"}),
            json!({})
        )[3..5],
        ["<pending>", "<none>"]
    );
    assert_eq!(
        svc(
            json!({"type": "LoadBalancer", "externalIPs": ["5.6.7.8"]}),
            json!({"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"hostname": "lb.example.com"}]}})
        )[2..4],
        ["<none>", "1.2.3.4,lb.example.com,5.6.7.8"]
    );
    assert_eq!(
        svc(
            json!({"type": "ExternalName", "externalName": "example.com"}),
            json!({})
        )[3],
        "example.com"
    );
    assert_eq!(
        svc(
            json!({"clusterIP": "None", "externalIPs": ["1.1.1.1"]}),
            json!({})
        )[1..4],
        ["ClusterIP", "None", "1.1.1.1"]
    );
}

#[test]
fn endpoints_and_slices() {
    let addrs = |n: usize| {
        (1..=n)
            .map(|i| json!({"ip": format!("10.42.0.{i}")}))
            .collect::<Vec<_>>()
    };
    let ep = |subsets: Value| {
        row(
            "",
            "endpoints",
            json!({"metadata": meta("e"), "subsets": subsets}),
        )[1]
        .clone()
    };
    assert_eq!(ep(json!(null)), "<none>");
    assert_eq!(
        ep(json!([{"addresses": addrs(1), "ports": [{"port": 80}]}])),
        "10.42.0.1:80"
    );
    assert_eq!(
        ep(json!([{"addresses": addrs(5), "ports": [{"port": 80, "name": "http"}]}])),
        "10.42.0.1:80,10.42.0.2:80,10.42.0.3:80 + 2 more..."
    );
    assert_eq!(ep(json!([{"addresses": addrs(2)}])), "10.42.0.1,10.42.0.2");
    assert_eq!(
        ep(json!([{"addresses": [{"ip": "fd00::5"}], "ports": [{"port": 80}]}])),
        "[fd00::5]:80"
    );
    assert_eq!(
        ep(json!([{"addresses": addrs(2), "ports": [{"port": 80}, {"port": 443}]}])),
        "10.42.0.1:80,10.42.0.2:80,10.42.0.1:443 + 1 more..."
    );

    assert_eq!(
        col_names("discovery.k8s.io", "endpointslices"),
        [
            ("Name", 0),
            ("AddressType", 0),
            ("Ports", 0),
            ("Endpoints", 0),
            ("Age", 0)
        ]
    );
    let slice = json!({"metadata": meta("s-abc"), "addressType": "IPv4", "ports": [{"port": 80, "name": "http"}, {"name": "x"}, {}, {"port": 1}],
                       "endpoints": [{"addresses": ["10.42.0.5"]}, {"addresses": ["10.42.0.6"]}]});
    assert_eq!(
        row("discovery.k8s.io", "endpointslices", slice),
        [
            "s-abc",
            "IPv4",
            "80,x,* + 1 more...",
            "10.42.0.5,10.42.0.6",
            "5s"
        ]
    );
    let empty = json!({"metadata": meta("s"), "addressType": "IPv4"});
    assert_eq!(
        row("discovery.k8s.io", "endpointslices", empty)[2..4],
        ["<unset>", "<unset>"]
    );
}

#[test]
fn events() {
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

#[test]
fn config_objects() {
    assert_eq!(
        row(
            "",
            "configmaps",
            json!({"metadata": meta("kube-root-ca.crt"), "data": {"ca.crt": "x", "b": "y"}, "binaryData": {"c": "eg=="}})
        ),
        ["kube-root-ca.crt", "3", "5s"]
    );
    assert_eq!(
        row("", "configmaps", json!({"metadata": meta("empty")})),
        ["empty", "0", "5s"]
    );
    assert_eq!(
        col_names("", "secrets"),
        [("Name", 0), ("Type", 0), ("Data", 0), ("Age", 0)]
    );
    assert_eq!(
        row(
            "",
            "secrets",
            json!({"metadata": meta("s"), "type": "Opaque", "data": {"a": "YQ=="}})
        ),
        ["s", "Opaque", "1", "5s"]
    );
    assert_eq!(
        col_names("", "serviceaccounts"),
        [("Name", 0), ("Secrets", 0), ("Age", 0)]
    );
    assert_eq!(
        row("", "serviceaccounts", json!({"metadata": meta("default")})),
        ["default", "0", "5s"]
    );
}

#[test]
fn default_table_for_other_resources() {
    let cols = columns("rbac.authorization.k8s.io", "roles");
    assert_eq!(
        cols.iter()
            .map(|c| (c.name, c.kind, c.format))
            .collect::<Vec<_>>(),
        [("Name", "string", "name"), ("Created At", "date", "")]
    );
    assert_eq!(
        row(
            "rbac.authorization.k8s.io",
            "roles",
            json!({"metadata": meta("r")})
        ),
        ["r", "2024-01-01T11:59:55Z"]
    );
    let frac =
        json!({"metadata": {"name": "f", "creationTimestamp": "2024-01-01T10:00:00.75+02:00"}});
    assert_eq!(
        row("example.com", "widgets", frac),
        ["f", "2024-01-01T08:00:00Z"]
    );
    assert_eq!(
        row("example.com", "widgets", json!({"metadata": {"name": "z"}})),
        ["z", "0001-01-01T00:00:00Z"]
    );
    // Core resources need the core group.
    assert_eq!(columns("apps", "pods").len(), 2);
}
