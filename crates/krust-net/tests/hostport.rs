//! hostPorts: a listener in the pod is reached through the node's addresses and 127.0.0.1,
//! from the node and from pods (hairpin, itself included), over TCP and UDP; a hostPort bound
//! to one node address answers only there.

mod support;

use std::net::{Ipv4Addr, SocketAddr};

use krust_net::{HostPort, PodNetwork, Protocol};
use support::{Netns, Node, tcp_roundtrip, tcp_send, udp_receive_once, udp_send};

fn at(ip: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::from(ip), port))
}

fn port(host_port: u16, container_port: u16, protocol: Protocol) -> HostPort {
    HostPort {
        host_port,
        container_port,
        protocol,
        host_ip: None,
    }
}

/// A node with an address of its own besides the bridge's (192.0.2.1 on `support::uplink`).
fn node(tag: &str) -> Node {
    let node = Node::new(tag);
    support::uplink(&node.host);
    node.host
        .ip(&["addr", "add", "192.0.2.1/24", "dev", "krt-up"]);
    node
}

#[tokio::test]
async fn a_host_port_reaches_a_listener_in_the_pod_from_the_node_and_from_pods() {
    let node = node("hp");
    let net = PodNetwork::setup(node.config.clone()).await.unwrap();
    let (web, other) = (Netns::new("pw"), Netns::new("po"));
    let tcp = port(8080, 80, Protocol::Tcp);
    net.attach("web", &web.path, &[tcp]).await.unwrap();
    net.attach("other", &other.path, &[]).await.unwrap();
    let listen = at([0, 0, 0, 0], 80);

    for (from, to) in [
        (&node.host, at([127, 0, 0, 1], 8080)),
        (&node.host, at([192, 0, 2, 1], 8080)),
        (&node.host, at([10, 42, 0, 1], 8080)),
        (&other, at([192, 0, 2, 1], 8080)),
        (&other, at([10, 42, 0, 1], 8080)),
        (&web, at([10, 42, 0, 1], 8080)),
        (&web, at([192, 0, 2, 1], 8080)),
    ] {
        let name = &from.name;
        let t = std::time::Instant::now();
        let got = tcp_roundtrip(from, to, &web, listen);
        eprintln!("TIMING from {name} to {to}: {:?}", t.elapsed());
        assert_eq!(got, "hello", "from {name} to {to}");
    }

    let dns = port(5353, 53, Protocol::Udp);
    net.attach("web", &web.path, &[tcp, dns]).await.unwrap();
    let received = udp_receive_once(&web, at([0, 0, 0, 0], 53));
    udp_send(&node.host, at([192, 0, 2, 1], 5353), "query");
    assert_eq!(received.join().unwrap(), "query");
}

#[tokio::test]
async fn a_host_port_bound_to_one_node_address_answers_only_there_and_goes_on_detach() {
    let node = node("hpip");
    let net = PodNetwork::setup(node.config.clone()).await.unwrap();
    let web = Netns::new("pw");
    let bound = HostPort {
        host_ip: Some(Ipv4Addr::new(192, 0, 2, 1)),
        ..port(9090, 80, Protocol::Tcp)
    };
    net.attach("web", &web.path, &[bound]).await.unwrap();
    let listen = at([0, 0, 0, 0], 80);
    assert_eq!(
        tcp_roundtrip(&node.host, at([192, 0, 2, 1], 9090), &web, listen),
        "hello"
    );
    let refused = tcp_send(&node.host, at([127, 0, 0, 1], 9090), "x").unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);

    net.detach("web", None).await.unwrap();
    let refused = tcp_send(&node.host, at([192, 0, 2, 1], 9090), "x").unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[tokio::test]
async fn a_pod_cannot_reach_the_nodes_localhost_through_the_bridge() {
    // route_localnet on the bridge (for hostPorts through 127.0.0.1) must not let a pod
    // reach what listens on the node's 127.0.0.1 (kube-proxy's CVE-2020-8558).
    let node = node("lo");
    let net = PodNetwork::setup(node.config.clone()).await.unwrap();
    let pod = Netns::new("p");
    net.attach("pod", &pod.path, &[]).await.unwrap();
    // The pod's kernel is made to send 127.0.0.2 out through the gateway, as a crafted
    // packet would arrive.
    pod.ip_line("route del local 127.0.0.0/8 dev lo table local");
    pod.ip_line("route add 127.0.0.2/32 via 10.42.0.1 dev eth0");
    let sysctl = "netns exec POD sysctl -qw net.ipv4.conf.eth0.route_localnet=1";
    let args: Vec<&str> = sysctl
        .split(' ')
        .map(|a| if a == "POD" { &pod.name } else { a })
        .collect();
    support::run("ip", &args);
    // Something listening on the node's loopback only (open until this test process ends).
    node.host.run(|| {
        let listener = std::net::TcpListener::bind("127.0.0.2:7999").unwrap();
        std::mem::forget(listener);
    });
    let tried = tcp_send(&pod, at([127, 0, 0, 2], 7999), "x");
    let dropped = tried.expect_err("a pod reached the node's loopback");
    assert_eq!(dropped.kind(), std::io::ErrorKind::TimedOut, "{dropped}");
}

#[tokio::test]
async fn a_udp_host_port_reaches_the_pod_also_for_a_client_that_sent_before_it_existed() {
    let node = node("udp");
    let net = PodNetwork::setup(node.config.clone()).await.unwrap();
    let pod = Netns::new("p");
    // The client's flow to 192.0.2.1:5353 is tracked (unanswered) before the hostPort exists.
    let send = || {
        node.host.run(|| {
            let socket = std::net::UdpSocket::bind("0.0.0.0:45353").unwrap();
            socket.send_to(b"query", "192.0.2.1:5353").unwrap();
        })
    };
    send();
    net.attach("dns", &pod.path, &[port(5353, 53, Protocol::Udp)])
        .await
        .unwrap();
    let received = udp_receive_once(&pod, at([0, 0, 0, 0], 53));
    send();
    assert_eq!(received.join().unwrap(), "query");
}
