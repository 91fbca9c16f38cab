//! The service proxy on a node whose "host" is a network namespace: a cluster IP reaches the
//! pod behind it from the node, from another pod and from the pod itself (hairpin); a node
//! port answers on 127.0.0.1 and the node's address; UDP too; a Service without endpoints
//! refuses; an endpoint change is followed; stopping removes the table and its route.

mod support;

use std::net::{Ipv4Addr, SocketAddr};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use krust_net::PodNetwork;
use krust_net::proxy::{ProxyConfig, ServiceProxy};
use serde_json::{Value, json};
use support::{Netns, Node, tcp_roundtrip, tcp_send, udp_receive_once, udp_send};

fn at(ip: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::from(ip), port))
}

fn service(name: &str, cluster_ip: &str, extra: Value) -> Service {
    let mut spec = json!({"clusterIP": cluster_ip,
        "ports": [{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080},
                  {"name": "dns", "port": 53, "protocol": "UDP"}]});
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    serde_json::from_value(
        json!({"metadata": {"name": name, "namespace": "default"}, "spec": spec}),
    )
    .unwrap()
}

fn slice(service: &str, ips: &[&str]) -> EndpointSlice {
    let endpoints: Vec<Value> = ips
        .iter()
        .map(|ip| json!({"addresses": [ip], "nodeName": "n1", "conditions": {"ready": true}}))
        .collect();
    serde_json::from_value(json!({
        "metadata": {"name": format!("{service}-x"), "namespace": "default",
            "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"},
                  {"name": "dns", "port": 5353, "protocol": "UDP"}],
        "endpoints": endpoints,
    }))
    .unwrap()
}

struct Setup {
    node: Node,
    proxy: ServiceProxy,
    web: Netns,
    other: Netns,
}

async fn setup(tag: &str) -> Setup {
    let node = Node::new(tag);
    support::uplink(&node.host);
    node.host
        .ip(&["addr", "add", "192.0.2.1/24", "dev", "krt-up"]);
    let net = PodNetwork::setup(node.config.clone()).await.unwrap();
    let (web, other) = (Netns::new("pw"), Netns::new("po"));
    net.attach("web", &web.path, &[]).await.unwrap(); // 10.42.0.2
    net.attach("other", &other.path, &[]).await.unwrap(); // 10.42.0.3
    let proxy = ServiceProxy::start(ProxyConfig {
        bridge: node.config.bridge.clone(),
        node_name: "n1".into(),
        cluster_cidr: node.config.cluster_cidr,
        service_cidr: node.config.service_cidr,
        host_netns: node.config.host_netns.clone(),
    })
    .await
    .unwrap();
    Setup {
        node,
        proxy,
        web,
        other,
    }
}

#[tokio::test]
async fn a_cluster_ip_and_a_node_port_reach_the_pod_from_the_node_from_pods_and_from_itself() {
    let s = setup("px").await;
    let svc = service("web", "10.43.0.10", json!({"type": "NodePort"}));
    let eps = slice("web", &["10.42.0.2"]);
    let synced = s.proxy.sync([&svc], [&eps]).await.unwrap();
    assert!(synced.full);
    let listen = at([0, 0, 0, 0], 8080);
    for (from, to) in [
        (&s.node.host, at([10, 43, 0, 10], 80)),
        (&s.other, at([10, 43, 0, 10], 80)),
        (&s.web, at([10, 43, 0, 10], 80)),
        (&s.node.host, at([127, 0, 0, 1], 30080)),
        (&s.node.host, at([192, 0, 2, 1], 30080)),
        (&s.other, at([192, 0, 2, 1], 30080)),
        (&s.web, at([10, 42, 0, 1], 30080)),
    ] {
        assert_eq!(
            tcp_roundtrip(from, to, &s.web, listen),
            "hello",
            "from {} to {to}",
            from.name
        );
    }
    let received = udp_receive_once(&s.web, at([0, 0, 0, 0], 5353));
    udp_send(&s.other, at([10, 43, 0, 10], 53), "query");
    assert_eq!(received.join().unwrap(), "query");
    // Nothing changed: nothing to write.
    assert_eq!(s.proxy.sync([&svc], [&eps]).await.unwrap().lines, 0);
}

#[tokio::test]
async fn a_service_without_endpoints_or_an_unserved_port_refuses_and_an_endpoint_change_is_followed()
 {
    let s = setup("pxe").await;
    let svc = service("web", "10.43.0.10", json!({}));
    s.proxy.sync([&svc], []).await.unwrap();
    for to in [at([10, 43, 0, 10], 80), at([10, 43, 0, 10], 81)] {
        let err = tcp_send(&s.other, to, "x").unwrap_err();
        assert_eq!(
            err.kind(),
            std::io::ErrorKind::ConnectionRefused,
            "{to}: {err}"
        );
    }
    let err = tcp_send(&s.node.host, at([10, 43, 0, 10], 80), "x").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    // Unallocated cluster IPs go nowhere.
    assert!(tcp_send(&s.other, at([10, 43, 0, 99], 80), "x").is_err());

    let synced = s
        .proxy
        .sync([&svc], [&slice("web", &["10.42.0.2"])])
        .await
        .unwrap();
    assert!(!synced.full);
    let listen = at([0, 0, 0, 0], 8080);
    assert_eq!(
        tcp_roundtrip(&s.other, at([10, 43, 0, 10], 80), &s.web, listen),
        "hello"
    );
    s.proxy
        .sync([&svc], [&slice("web", &["10.42.0.3"])])
        .await
        .unwrap();
    assert_eq!(
        tcp_roundtrip(&s.node.host, at([10, 43, 0, 10], 80), &s.other, listen),
        "hello"
    );

    s.proxy.stop().await.unwrap();
    let (_, tables) = s.node.host.nft(&["list", "tables"]);
    assert!(!tables.contains("krust-proxy-"), "{tables}");
    let routes = s.node.host.ip(&["route", "show", "10.43.0.0/16"]);
    assert!(!routes.contains("dev krt-br0"), "{routes}");
}
