//! Tests of the service, endpoints and EndpointSlice printers (`services.rs`).

use serde_json::{Value, json};

use super::testing::{col_names, meta, row};

#[test]
fn service_rows_show_type_addresses_ports_and_selector() {
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
fn endpoints_and_slices_list_a_few_addresses_then_a_count() {
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
