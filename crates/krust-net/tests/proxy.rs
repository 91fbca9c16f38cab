//! The service proxy on a node whose "host" is a network namespace: a cluster IP reaches the
//! pod behind it from the node, from another pod and from the pod itself (hairpin); a node
//! port answers on 127.0.0.1 and the node's address; UDP too; a Service without endpoints
//! refuses; an endpoint change is followed; stopping removes the table and its route; an
//! SCTP port is programmed beside TCP (nftables matches SCTP itself, this kernel has no SCTP).

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
    // Someone removed the table: the check notices, the next sync writes it whole.
    assert!(s.proxy.check().await.unwrap());
    let (ok, text) = s
        .node
        .host
        .nft(&["delete", "table", "ip", "krust-proxy-krt-br0"]);
    assert!(ok, "{text}");
    assert!(!s.proxy.check().await.unwrap());
    assert!(s.proxy.sync([&svc], [&eps]).await.unwrap().full);
    assert_eq!(
        tcp_roundtrip(&s.other, at([10, 43, 0, 10], 80), &s.web, listen),
        "hello"
    );
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

/// Answers every TCP connection to `port` in `ns` with `name` until the handle is dropped.
struct Server {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The peers that connected.
    peers: std::sync::Arc<std::sync::Mutex<Vec<SocketAddr>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn serve(ns: &Netns, port: u16, name: &'static str) -> Server {
    use std::io::Write;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let peers = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (ready, listening) = std::sync::mpsc::channel();
    let (s, p) = (stop.clone(), peers.clone());
    ns.spawn(move || {
        let listener = std::net::TcpListener::bind(("0.0.0.0", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        ready.send(()).unwrap();
        while !s.load(std::sync::atomic::Ordering::Relaxed) {
            match listener.accept() {
                Ok((mut conn, peer)) => {
                    p.lock().unwrap().push(peer);
                    let _ = conn.write_all(name.as_bytes());
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(2)),
            }
        }
    });
    listening.recv().unwrap();
    Server { stop, peers }
}

/// What the server at `to` says to a connection from `ns` ("" when none answered).
fn ask(ns: &Netns, to: SocketAddr) -> String {
    use std::io::Read;
    ns.run(move || {
        let Ok(mut conn) =
            std::net::TcpStream::connect_timeout(&to, std::time::Duration::from_secs(1))
        else {
            return String::new();
        };
        conn.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let mut got = String::new();
        let _ = conn.read_to_string(&mut got);
        got
    })
}

fn asks(ns: &Netns, to: SocketAddr, n: usize) -> std::collections::BTreeSet<String> {
    (0..n).map(|_| ask(ns, to)).collect()
}

fn names(list: &[&str]) -> std::collections::BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A client outside the node: a namespace holding the far end of the node's uplink
/// (192.0.2.9), the node's default route pointing at it. Counts what it receives for the
/// cluster's ranges.
fn outside(s: &Setup) -> Netns {
    let out = Netns::new("out");
    s.node
        .host
        .ip(&["link", "set", "krt-up-peer", "netns", &out.name]);
    out.ip(&["addr", "add", "192.0.2.9/24", "dev", "krt-up-peer"]);
    out.ip(&["link", "set", "krt-up-peer", "up"]);
    s.node
        .host
        .ip(&["route", "add", "default", "via", "192.0.2.9"]);
    let (ok, text) = out.nft(&[
        "add table ip leak; add chain ip leak in { type filter hook prerouting priority -500; }; add rule ip leak in ip daddr { 10.42.0.0/16, 10.43.0.0/16 } counter",
    ]);
    assert!(ok, "{text}");
    out
}

/// How many packets for the cluster's ranges reached the outside.
fn leaked(out: &Netns) -> u64 {
    let (_, text) = out.nft(&["list", "chain", "ip", "leak", "in"]);
    let counter = text
        .lines()
        .find(|l| l.contains("counter"))
        .unwrap_or_default();
    let packets = counter.split("packets ").nth(1).unwrap_or_default();
    packets
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn affinity_policies_and_external_clients_are_handled_as_kube_proxy_does() {
    let s = setup("pxa").await;
    let out = outside(&s);
    let (web, _other) = (serve(&s.web, 8080, "web"), serve(&s.other, 8080, "other"));
    let both = slice("web", &["10.42.0.2", "10.42.0.3"]);
    let cip = at([10, 43, 0, 10], 80);

    // Random over both; with ClientIP affinity, always the same one.
    let plain = service("web", "10.43.0.10", json!({}));
    s.proxy.sync([&plain], [&both]).await.unwrap();
    assert_eq!(asks(&s.node.host, cip, 30), names(&["web", "other"]));
    let sticky = service(
        "web",
        "10.43.0.10",
        json!({"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 30}}}),
    );
    s.proxy.sync([&sticky], [&both]).await.unwrap();
    assert_eq!(asks(&s.node.host, cip, 20).len(), 1);
    assert_eq!(asks(&s.other, cip, 20).len(), 1);

    // An external IP and a node port from outside: masqueraded with the Cluster policy; the
    // Local policy keeps the client's address and uses this node's endpoints only.
    let mut remote = both.clone();
    remote.endpoints[1].node_name = Some("n2".into());
    let external = service(
        "web",
        "10.43.0.10",
        json!({"type": "NodePort", "externalIPs": ["192.0.2.50"]}),
    );
    s.proxy.sync([&external], [&remote]).await.unwrap();
    out.ip(&["route", "add", "192.0.2.50", "via", "192.0.2.1"]);
    assert_eq!(
        asks(&out, at([192, 0, 2, 50], 80), 30),
        names(&["web", "other"])
    );
    let masqueraded = web
        .peers
        .lock()
        .unwrap()
        .iter()
        .all(|p| p.ip() == std::net::IpAddr::from([10, 42, 0, 1]));
    assert!(masqueraded, "{:?}", web.peers.lock().unwrap());
    assert_eq!(
        asks(&out, at([192, 0, 2, 1], 30080), 30),
        names(&["web", "other"])
    );
    let local = service(
        "web",
        "10.43.0.10",
        json!({"type": "NodePort", "externalIPs": ["192.0.2.50"], "externalTrafficPolicy": "Local"}),
    );
    s.proxy.sync([&local], [&remote]).await.unwrap();
    web.peers.lock().unwrap().clear();
    assert_eq!(asks(&out, at([192, 0, 2, 1], 30080), 20), names(&["web"]));
    assert_eq!(asks(&out, at([192, 0, 2, 50], 80), 20), names(&["web"]));
    let peers: std::collections::BTreeSet<std::net::IpAddr> =
        web.peers.lock().unwrap().iter().map(|p| p.ip()).collect();
    assert_eq!(
        peers,
        [std::net::IpAddr::from([192, 0, 2, 9])].into(),
        "the client's own address"
    );
    // The node itself still reaches every endpoint.
    assert_eq!(
        asks(&s.node.host, at([192, 0, 2, 1], 30080), 30),
        names(&["web", "other"])
    );

    // internalTrafficPolicy Local: the cluster IP only leads to this node's endpoint.
    let internal = service(
        "web",
        "10.43.0.10",
        json!({"internalTrafficPolicy": "Local"}),
    );
    s.proxy.sync([&internal], [&remote]).await.unwrap();
    assert_eq!(asks(&s.other, cip, 20), names(&["web"]));
    assert_eq!(
        leaked(&out),
        0,
        "packets for the cluster's ranges left the node"
    );
}

#[tokio::test]
async fn nothing_for_the_service_range_leaves_the_node_and_udp_clients_follow_an_endpoint_change() {
    let s = setup("pxs").await;
    let out = outside(&s);
    let svc = service("web", "10.43.0.10", json!({}));
    s.proxy.sync([&svc], []).await.unwrap();
    // No endpoints, unserved ports, unallocated addresses, from the node and from a pod.
    for to in [
        at([10, 43, 0, 10], 80),
        at([10, 43, 0, 10], 81),
        at([10, 43, 0, 99], 80),
        at([10, 43, 255, 1], 443),
    ] {
        assert_eq!(ask(&s.node.host, to), "");
        assert_eq!(ask(&s.other, to), "");
        for from in [&s.node.host, &s.other] {
            // Refused on the node itself: the send fails there.
            from.run(move || {
                let _ = std::net::UdpSocket::bind("0.0.0.0:0")
                    .unwrap()
                    .send_to(b"x", to);
            });
        }
    }
    assert_eq!(
        leaked(&out),
        0,
        "packets for the cluster's ranges left the node"
    );

    // One UDP socket keeps sending; when its endpoint goes, the next datagram finds the new one.
    s.proxy
        .sync([&svc], [&slice("web", &["10.42.0.2"])])
        .await
        .unwrap();
    let client = std::sync::Arc::new(
        s.node
            .host
            .run(|| std::net::UdpSocket::bind("0.0.0.0:0").unwrap()),
    );
    let send = |c: &std::sync::Arc<std::net::UdpSocket>| {
        c.send_to(b"q", at([10, 43, 0, 10], 53)).unwrap();
    };
    let first = udp_receive_once(&s.web, at([0, 0, 0, 0], 5353));
    send(&client);
    assert_eq!(first.join().unwrap(), "q");
    let second = udp_receive_once(&s.other, at([0, 0, 0, 0], 5353));
    let started = std::time::Instant::now();
    s.proxy
        .sync([&svc], [&slice("web", &["10.42.0.3"])])
        .await
        .unwrap();
    eprintln!("an endpoint change programmed in {:?}", started.elapsed());
    send(&client);
    assert_eq!(second.join().unwrap(), "q");
}

#[tokio::test]
async fn an_endpoint_change_among_a_thousand_services_is_programmed_well_within_a_second() {
    let s = setup("pxk").await;
    let services: Vec<Service> = (0..1000)
        .map(|i| {
            service(
                &format!("s{i}"),
                &format!("10.43.{}.{}", i / 200, 10 + i % 200),
                json!({}),
            )
        })
        .collect();
    let mut slices: Vec<EndpointSlice> = (0..1000)
        .map(|i| slice(&format!("s{i}"), &["10.42.0.2", "10.42.0.3"]))
        .collect();
    let started = std::time::Instant::now();
    let first = s.proxy.sync(&services, &slices).await.unwrap();
    let full = started.elapsed();
    assert!(first.full);
    slices[500] = slice("s500", &["10.42.0.2"]);
    let started = std::time::Instant::now();
    let change = s.proxy.sync(&services, &slices).await.unwrap();
    let partial = started.elapsed();
    eprintln!(
        "1,000 services: full sync {full:?} ({} lines), one endpoint change {partial:?} ({} lines)",
        first.lines, change.lines
    );
    assert!(!change.full && change.lines <= 11, "{change:?}");
    assert!(partial < std::time::Duration::from_secs(1), "{partial:?}");
    let _web = serve(&s.web, 8080, "web");
    assert_eq!(
        asks(&s.other, at([10, 43, 2, 110], 80), 10),
        names(&["web"])
    );
}

#[tokio::test]
async fn a_selectorless_service_backed_by_the_nodes_own_address_answers_the_node_and_pods() {
    // As the cluster DNS: kube-dns's hand-written slice names the bridge's address.
    let s = setup("pxd").await;
    let dns = service("kube-dns", "10.43.0.10", json!({}));
    let eps = slice("kube-dns", &["10.42.0.1"]);
    s.proxy.sync([&dns], [&eps]).await.unwrap();
    for from in [&s.node.host, &s.other, &s.web] {
        let received = udp_receive_once(&s.node.host, at([10, 42, 0, 1], 5353));
        udp_send(from, at([10, 43, 0, 10], 53), "query");
        assert_eq!(received.join().unwrap(), "query", "UDP from {}", from.name);
        let server = serve(&s.node.host, 8080, "node");
        assert_eq!(
            ask(from, at([10, 43, 0, 10], 80)),
            "node",
            "TCP from {}",
            from.name
        );
        drop(server);
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[tokio::test]
async fn an_sctp_port_is_programmed_beside_tcp_whether_or_not_the_kernel_carries_sctp() {
    let s = setup("pxs").await;
    let ports = json!([{"name": "http", "port": 80, "protocol": "TCP"},
                       {"name": "sig", "port": 9000, "protocol": "SCTP"}]);
    let svc = service("sig", "10.43.0.12", json!({ "ports": ports }));
    let mut eps = slice("sig", &["10.42.0.2"]);
    eps.ports = serde_json::from_value(json!([
        {"name": "http", "port": 8080, "protocol": "TCP"},
        {"name": "sig", "port": 9000, "protocol": "SCTP"}
    ]))
    .unwrap();
    assert!(s.proxy.sync([&svc], [&eps]).await.unwrap().full);
    // nftables matches SCTP headers itself: the rules load even on a kernel without the
    // SCTP module (this one), and the Service's other ports work.
    let (ok, table) = s
        .node
        .host
        .nft(&["list", "table", "ip", "krust-proxy-krt-br0"]);
    assert!(ok, "{table}");
    assert!(
        table.contains("10.43.0.12 . sctp . 9000 : goto service-")
            && table.contains("meta l4proto sctp dnat to 10.42.0.2:9000"),
        "{table}"
    );
    assert_eq!(
        tcp_roundtrip(
            &s.other,
            at([10, 43, 0, 12], 80),
            &s.web,
            at([0, 0, 0, 0], 8080)
        ),
        "hello"
    );
}
