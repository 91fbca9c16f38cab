//! What the pod network keeps and what it leaves: addresses survive a new `PodNetwork` over
//! the same state directory (an agent restart), detach frees everything of a pod, teardown
//! everything of the node.

mod support;

use std::net::{Ipv4Addr, SocketAddr};

use krust_net::{HostPort, PodNetwork, Protocol};
use support::{Netns, Node, tcp_roundtrip};

fn web(host_port: u16) -> HostPort {
    HostPort {
        host_port,
        container_port: 80,
        protocol: Protocol::Tcp,
        host_ip: None,
    }
}

#[tokio::test]
async fn addresses_and_host_ports_survive_a_new_pod_network_over_the_same_state_dir() {
    let node = Node::new("restart");
    let net = PodNetwork::setup(node.config.clone()).await.unwrap();
    let (a, b) = (Netns::new("pa"), Netns::new("pb"));
    let ip_a = net.attach("pod-a", &a.path, &[web(8080)]).await.unwrap().ip;
    let ip_b = net.attach("pod-b", &b.path, &[]).await.unwrap().ip;
    drop(net);

    let restarted = PodNetwork::setup(node.config.clone()).await.unwrap();
    let mut allocated = restarted.allocated();
    allocated.sort();
    assert_eq!(
        allocated,
        vec![("pod-a".to_string(), ip_a), ("pod-b".to_string(), ip_b)]
    );
    // The running pod still works through its hostPort, rules not doubled.
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, 8080));
    let listen = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 80));
    assert_eq!(tcp_roundtrip(&node.host, to, &a, listen), "hello");
    let (_, table) = node
        .host
        .nft(&["list", "table", "ip", "krust-hostport-krt-br0"]);
    assert_eq!(table.matches("jump hostports").count(), 2, "{table}");
    // Same pod, same address; a new pod, a new one.
    assert_eq!(
        restarted
            .attach("pod-a", &a.path, &[web(8080)])
            .await
            .unwrap()
            .ip,
        ip_a
    );
    let c = Netns::new("pc");
    let ip_c = restarted.attach("pod-c", &c.path, &[]).await.unwrap().ip;
    assert!(ip_c != ip_a && ip_c != ip_b);
}

#[tokio::test]
async fn detach_frees_the_address_the_veth_and_the_host_port_rules_and_twice_is_fine() {
    let node = Node::new("detach");
    let net = PodNetwork::setup(node.config.clone()).await.unwrap();
    let pod = Netns::new("p");
    net.attach("pod-a", &pod.path, &[web(8080)]).await.unwrap();
    let veth = krust_net::host_veth_name("pod-a");
    assert!(node.host.try_ip(&["link", "show", &veth]).0);
    let (_, table) = node
        .host
        .nft(&["list", "table", "ip", "krust-hostport-krt-br0"]);
    assert!(table.contains("tcp . 8080 : 10.42.0.2 . 80"), "{table}");

    net.detach("pod-a", Some(&pod.path)).await.unwrap();
    assert!(net.allocated().is_empty());
    let (exists, _) = node.host.try_ip(&["link", "show", &veth]);
    assert!(!exists, "the host end of the veth is gone");
    assert!(
        !pod.try_ip(&["link", "show", "eth0"]).0,
        "the pod end is gone"
    );
    let (_, table) = node
        .host
        .nft(&["list", "table", "ip", "krust-hostport-krt-br0"]);
    assert!(!table.contains("elements"), "{table}");
    let stored = std::fs::read_to_string(node.state.path().join("allocations.json")).unwrap();
    assert!(!stored.contains("pod-a"), "{stored}");

    net.detach("pod-a", Some(&pod.path)).await.unwrap();
    net.detach("never-attached", None).await.unwrap();
}

#[tokio::test]
async fn teardown_removes_the_bridge_the_routes_the_rules_and_every_veth() {
    let node = Node::new("down");
    let net = PodNetwork::setup(node.config.clone()).await.unwrap();
    let pod = Netns::new("p");
    net.attach("pod-a", &pod.path, &[web(8080)]).await.unwrap();

    net.teardown().await.unwrap();
    assert!(!node.host.try_ip(&["link", "show", "krt-br0"]).0);
    assert!(
        !node
            .host
            .try_ip(&["link", "show", &krust_net::host_veth_name("pod-a")])
            .0
    );
    assert_eq!(node.host.ip(&["route", "show", "proto", "107"]).trim(), "");
    let (listed, _) = node
        .host
        .nft(&["list", "table", "ip", "krust-hostport-krt-br0"]);
    assert!(!listed, "the table is gone");
    assert!(net.allocated().is_empty());
    net.teardown().await.unwrap();
}

#[tokio::test]
async fn a_host_port_another_pod_has_is_refused() {
    let node = Node::new("taken");
    let net = PodNetwork::setup(node.config.clone()).await.unwrap();
    let (a, b) = (Netns::new("pa"), Netns::new("pb"));
    net.attach("pod-a", &a.path, &[web(8080)]).await.unwrap();
    let err = net
        .attach("pod-b", &b.path, &[web(8080)])
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "hostPort 8080/tcp is already taken by pod pod-a"
    );
    assert_eq!(net.allocated().len(), 1);
}

#[tokio::test]
async fn attaching_into_a_namespace_that_does_not_exist_fails_and_detach_cleans_up() {
    let node = Node::new("bad");
    let net = PodNetwork::setup(node.config.clone()).await.unwrap();
    let missing = std::path::Path::new("/run/netns/krt-no-such-namespace");
    let err = net.attach("pod-a", missing, &[]).await.unwrap_err();
    assert!(err.to_string().contains("netns"), "{err}");
    net.detach("pod-a", Some(missing)).await.unwrap();
    assert!(net.allocated().is_empty());
    let veth = krust_net::host_veth_name("pod-a");
    assert!(!node.host.try_ip(&["link", "show", &veth]).0);
}
