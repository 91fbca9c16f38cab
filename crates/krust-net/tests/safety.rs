//! DESIGN.md's network-safety rule on a node: the node's podCIDR goes to the bridge, the rest
//! of the cluster's pod range and the whole service range are `unreachable`, never the
//! default route; a more specific route someone else has, and someone else's route for the
//! same range, are left alone.

mod support;

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use krust_net::PodNetwork;
use support::{Netns, Node};

/// The host namespace gets a default route through a dummy device (a stand-in for the
/// machine's uplink; see `support::uplink`).
fn with_default_route(host: &Netns) {
    support::uplink(host);
    host.ip(&["addr", "add", "192.0.2.1/24", "dev", "krt-up"]);
    host.ip(&[
        "route",
        "add",
        "default",
        "via",
        "192.0.2.254",
        "dev",
        "krt-up",
    ]);
}

#[tokio::test]
async fn other_nodes_pods_and_services_are_unreachable_never_sent_by_the_default_route() {
    let node = Node::new("safe");
    with_default_route(&node.host);
    let net = PodNetwork::setup(node.config.clone()).await.unwrap();

    for other in [
        "10.42.1.5",
        "10.42.255.254",
        "10.43.0.1",
        "10.43.0.10",
        "10.43.255.1",
    ] {
        let (found, said) = node.host.try_ip(&["route", "get", other]);
        assert!(
            !found && said.contains("No route to host"),
            "{other}: {said}"
        );
    }
    let mine = node.host.ip(&["route", "get", "10.42.0.7"]);
    assert!(mine.contains("dev krt-br0"), "{mine}");
    // Outside the cluster's ranges the default route is untouched.
    assert!(
        node.host
            .ip(&["route", "get", "10.44.0.1"])
            .contains("dev krt-up")
    );
    // A connection fails at once, without a packet leaving.
    let refused = node.host.run(|| {
        let to = SocketAddr::from((Ipv4Addr::new(10, 43, 0, 10), 80));
        TcpStream::connect_timeout(&to, Duration::from_secs(2)).unwrap_err()
    });
    assert_eq!(
        refused.kind(),
        std::io::ErrorKind::HostUnreachable,
        "{refused}"
    );
    let routes = node.host.ip(&["route", "show", "proto", "107"]);
    assert!(routes.contains("unreachable 10.42.0.0/16"), "{routes}");
    assert!(routes.contains("unreachable 10.43.0.0/16"), "{routes}");

    // The routes stand also with a pod attached and after a restart.
    let pod = Netns::new("p");
    net.attach("pod-a", &pod.path, &[]).await.unwrap();
    drop(net);
    PodNetwork::setup(node.config.clone()).await.unwrap();
    let (found, _) = node.host.try_ip(&["route", "get", "10.43.0.10"]);
    assert!(!found);
    // From a pod too: through the gateway, then "no route to host" from the node.
    let refused = pod.run(|| {
        let to = SocketAddr::from((Ipv4Addr::new(10, 42, 7, 7), 80));
        TcpStream::connect_timeout(&to, Duration::from_secs(2)).unwrap_err()
    });
    assert_eq!(
        refused.kind(),
        std::io::ErrorKind::HostUnreachable,
        "{refused}"
    );
}

#[tokio::test]
async fn routes_someone_else_has_are_left_alone_and_kept_on_teardown() {
    let node = Node::new("others");
    with_default_route(&node.host);
    // Another node's range over some link, and the service range someone else routes.
    node.host
        .ip(&["route", "add", "10.42.1.0/24", "dev", "krt-up"]);
    node.host.ip(&["route", "add", "blackhole", "10.43.0.0/16"]);
    let net = PodNetwork::setup(node.config.clone()).await.unwrap();
    assert!(
        node.host
            .ip(&["route", "get", "10.42.1.5"])
            .contains("dev krt-up")
    );
    assert!(!node.host.try_ip(&["route", "get", "10.42.2.5"]).0);
    let routes = node.host.ip(&["route", "show", "proto", "107"]);
    assert!(!routes.contains("10.43.0.0/16"), "{routes}");

    net.teardown().await.unwrap();
    let left = node.host.ip(&["route", "show"]);
    assert!(left.contains("blackhole 10.43.0.0/16"), "{left}");
    assert!(left.contains("10.42.1.0/24 dev krt-up"), "{left}");
    assert!(!left.contains("10.42.0.0/16"), "{left}");
}
