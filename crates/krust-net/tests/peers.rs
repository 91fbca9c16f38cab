//! The pod network between nodes on a "host" namespace of the test's own (root): a sync
//! programs each peer's entries once, a second sync changes nothing, an entry removed by
//! hand comes back alone, a peer gone takes only its entries, and `stop` leaves neither the
//! VXLAN device nor a peer route (nor does a sync after it).

mod support;

use std::net::Ipv4Addr;

use krust_net::peers::{Mode, Peer, PeerNetwork, PeersConfig, Synced};
use support::Netns;

fn peer(name: &str, ip: [u8; 4], cidr: &str, mac: &str) -> Peer {
    Peer {
        name: name.into(),
        ip: Ipv4Addr::from(ip),
        pod_cidr: cidr.parse().unwrap(),
        vtep_mac: Some(mac.into()),
    }
}

/// A host whose address `10.38.0.2/24` is on its stand-in uplink, of MTU 1400.
fn host() -> Netns {
    let host = Netns::new("pe");
    support::uplink(&host);
    host.ip(&["link", "set", "krt-up", "mtu", "1400"]);
    host.ip(&["addr", "add", "10.38.0.2/24", "dev", "krt-up"]);
    host
}

fn config(host: &Netns, mode: Mode) -> PeersConfig {
    PeersConfig {
        mode,
        bridge: "krt-br".into(),
        node_ip: Ipv4Addr::new(10, 38, 0, 2),
        pod_cidr: "10.36.0.0/24".parse().unwrap(),
        cluster_cidr: "10.36.0.0/22".parse().unwrap(),
        mtu: mode.pod_mtu(1400),
        host_netns: Some(host.path.clone()),
    }
}

fn synced(added: usize, removed: usize) -> Synced {
    Synced { added, removed }
}

#[tokio::test]
async fn vxlan_peers_are_programmed_once_repaired_alone_and_removed_on_stop() {
    let host = host();
    let config = config(&host, Mode::Vxlan);
    let mtu = krust_net::peers::underlay_mtu(config.node_ip, config.host_netns.clone())
        .await
        .unwrap();
    assert_eq!(mtu, Some(1400));
    let net = PeerNetwork::start(config).await.unwrap();
    let device = host.ip(&["-d", "link", "show", "krt-br.vx"]);
    for want in [
        "mtu 1350",
        "vxlan id 1",
        "local 10.38.0.2",
        "dstport 8472",
        "nolearning",
    ] {
        assert!(device.contains(want), "{want}: {device}");
    }
    let b = peer("b", [10, 38, 1, 2], "10.36.1.0/24", "0a:58:0a:24:01:00");
    let c = peer("c", [10, 38, 2, 2], "10.36.2.0/24", "0a:58:0a:24:02:00");
    assert_eq!(
        net.sync(&[b.clone(), c.clone()]).await.unwrap(),
        synced(6, 0)
    );
    assert_eq!(
        net.sync(&[b.clone(), c.clone()]).await.unwrap(),
        synced(0, 0)
    );
    let routes = host.ip(&["route", "show", "proto", "107"]);
    assert!(
        routes.contains("10.36.1.0/24 via 10.36.1.0 dev krt-br.vx onlink"),
        "{routes}"
    );

    host.ip(&["route", "del", "10.36.2.0/24"]);
    assert_eq!(
        net.sync(&[b.clone(), c.clone()]).await.unwrap(),
        synced(1, 0)
    );
    assert_eq!(
        net.sync(std::slice::from_ref(&b)).await.unwrap(),
        synced(0, 3)
    );
    let fdb = support::run(
        "bridge",
        &["-n", &host.name, "fdb", "show", "dev", "krt-br.vx"],
    );
    assert!(
        fdb.contains("dst 10.38.1.2") && !fdb.contains("dst 10.38.2.2"),
        "{fdb}"
    );

    net.stop().await.unwrap();
    assert_eq!(net.sync(&[b]).await.unwrap(), synced(0, 0));
    assert!(!host.try_ip(&["link", "show", "krt-br.vx"]).0);
    assert_eq!(host.ip(&["route", "show", "proto", "107"]), "");
}

#[tokio::test]
async fn in_routes_mode_a_peer_s_range_goes_through_its_address_and_killall_removes_it() {
    let host = host();
    let config = config(&host, Mode::Routes);
    let net = PeerNetwork::start(config.clone()).await.unwrap();
    let b = peer("b", [10, 38, 0, 3], "10.36.1.0/24", "unused");
    assert_eq!(net.sync(&[b]).await.unwrap(), synced(1, 0));
    assert_eq!(
        host.ip(&["route", "show", "10.36.1.0/24"]).trim(),
        "10.36.1.0/24 via 10.38.0.3 dev krt-up proto 107"
    );
    assert!(!host.try_ip(&["link", "show", "krt-br.vx"]).0);
    krust_net::peers::remove(&config).await.unwrap();
    assert_eq!(host.ip(&["route", "show", "proto", "107"]), "");
}
