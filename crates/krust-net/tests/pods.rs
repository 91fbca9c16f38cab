//! Pods on the bridge: they reach each other, the node reaches them, they reach the node; a
//! pod attached twice keeps its address; how long an attach takes.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use krust_net::{PodAddress, PodNetwork};
use support::{Netns, Node, tcp_roundtrip};

fn at(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::from((ip, port))
}

#[tokio::test]
async fn two_pods_on_the_bridge_reach_each_other_and_the_node_and_the_node_reaches_them() {
    let node = Node::new("reach");
    let net = PodNetwork::setup(node.config.clone()).await.unwrap();
    let (a, b) = (Netns::new("pa"), Netns::new("pb"));
    let addr_a = net.attach("pod-a", &a.path, &[]).await.unwrap();
    let addr_b = net.attach("pod-b", &b.path, &[]).await.unwrap();
    assert_eq!(
        addr_a,
        PodAddress {
            ip: Ipv4Addr::new(10, 42, 0, 2),
            gateway: Ipv4Addr::new(10, 42, 0, 1),
            prefix: 24
        }
    );
    assert_eq!(addr_b.ip, Ipv4Addr::new(10, 42, 0, 3));

    let any = Ipv4Addr::UNSPECIFIED;
    assert_eq!(
        tcp_roundtrip(&a, at(addr_b.ip, 7001), &b, at(any, 7001)),
        "hello"
    );
    assert_eq!(
        tcp_roundtrip(&b, at(addr_a.ip, 7002), &a, at(any, 7002)),
        "hello"
    );
    assert_eq!(
        tcp_roundtrip(&node.host, at(addr_a.ip, 7003), &a, at(any, 7003)),
        "hello"
    );
    assert_eq!(
        tcp_roundtrip(&a, at(addr_a.gateway, 7004), &node.host, at(any, 7004)),
        "hello"
    );

    // What the pod sees: eth0 with its address and the MTU, a default route via the gateway.
    let eth0 = a.ip(&["-o", "addr", "show", "dev", "eth0"]);
    assert!(eth0.contains("inet 10.42.0.2/24"), "{eth0}");
    let link = a.ip(&["link", "show", "eth0"]);
    assert!(
        link.contains("mtu 1500") && link.contains("link/ether 0a:58:0a:2a:00:02"),
        "{link}"
    );
    let bridge = node.host.ip(&["link", "show", "krt-br0"]);
    assert!(bridge.contains("link/ether 0a:58:0a:2a:00:01"), "{bridge}");
    assert_eq!(
        a.ip(&["route", "show", "default"]).trim(),
        "default via 10.42.0.1 dev eth0"
    );
    let veth = krust_net::host_veth_name("pod-a");
    let host_end = node.host.ip(&["-d", "link", "show", &veth]);
    assert!(host_end.contains("master krt-br0"), "{host_end}");
    assert!(host_end.contains("hairpin on"), "{host_end}");
}

#[tokio::test]
async fn attaching_the_same_pod_twice_keeps_its_address_and_its_connectivity() {
    let node = Node::new("twice");
    let net = PodNetwork::setup(node.config.clone()).await.unwrap();
    let pod = Netns::new("p");
    let first = net.attach("pod-a", &pod.path, &[]).await.unwrap();
    let second = net.attach("pod-a", &pod.path, &[]).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(net.allocated(), vec![("pod-a".to_string(), first.ip)]);
    let any = Ipv4Addr::UNSPECIFIED;
    assert_eq!(
        tcp_roundtrip(&node.host, at(first.ip, 7010), &pod, at(any, 7010)),
        "hello"
    );
}

#[tokio::test]
async fn an_attach_takes_a_few_milliseconds() {
    let node = Node::new("lat");
    let net = PodNetwork::setup(node.config.clone()).await.unwrap();
    let pods: Vec<Netns> = (0..20).map(|_| Netns::new("l")).collect();
    let mut took = Vec::new();
    for (i, pod) in pods.iter().enumerate() {
        let start = Instant::now();
        net.attach(&format!("pod-{i}"), &pod.path, &[])
            .await
            .unwrap();
        took.push(start.elapsed());
    }
    took.sort();
    let (p50, p99) = (took[took.len() / 2], took[took.len() - 1]);
    println!(
        "attach latency over {} pods: p50 {p50:?}, p99 (max) {p99:?}",
        took.len()
    );
    assert!(p99 < Duration::from_millis(300), "attach p99 {p99:?}");

    // The same namespaces under new uids, all at once (the old pairs detached first: a
    // second eth0 would clash).
    let start = Instant::now();
    for i in 0..pods.len() {
        net.detach(&format!("pod-{i}"), None).await.unwrap();
    }
    let detached = start.elapsed();
    let start = Instant::now();
    let attaches: Vec<_> = pods
        .iter()
        .enumerate()
        .map(|(i, pod)| {
            let (net, path) = (net.clone(), pod.path.clone());
            tokio::spawn(async move { net.attach(&format!("again-{i}"), &path, &[]).await })
        })
        .collect();
    for attach in attaches {
        attach.await.unwrap().unwrap();
    }
    println!(
        "20 detaches in sequence {detached:?}, then 20 concurrent attaches {:?}",
        start.elapsed()
    );
    let mut ips: Vec<Ipv4Addr> = net.allocated().into_iter().map(|(_, ip)| ip).collect();
    ips.dedup();
    assert_eq!(ips.len(), 20);
}

#[tokio::test]
async fn a_pod_is_reachable_the_moment_attach_returns_also_when_attached_again() {
    let node = Node::new("ready");
    let net = PodNetwork::setup(node.config.clone()).await.unwrap();
    for round in 0..4 {
        let pod = Netns::new("p");
        let uid = format!("pod-{round}");
        net.attach(&uid, &pod.path, &[]).await.unwrap();
        let ip = net.attach(&uid, &pod.path, &[]).await.unwrap().ip;
        // One datagram, no retry: lost if the bridge port were not forwarding yet, late
        // (a second) if the node had to ask again for the pod's MAC address (its first
        // answer dropped by a pod end the link watch had not given a queue yet).
        let start = Instant::now();
        let received = support::udp_receive_once(&pod, at(Ipv4Addr::UNSPECIFIED, 5300));
        support::udp_send(&node.host, at(ip, 5300), "first");
        assert_eq!(received.join().unwrap(), "first");
        assert!(
            start.elapsed() < Duration::from_millis(500),
            "{:?}",
            start.elapsed()
        );
    }
}
