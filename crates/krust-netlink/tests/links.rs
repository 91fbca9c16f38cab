//! The requests against two network namespaces the test makes on a thread of its own (a
//! "host" with a bridge and a "pod"), checked with iproute2's own view of them. Nothing
//! of the real host is touched: the namespaces go when the thread ends. Root only.

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::process::Command;

use krust_netlink::{Netlink, Veth};
use rustix::thread::{LinkNameSpaceType, UnshareFlags, move_into_link_name_space};

/// A new network namespace for the calling thread; the file that names it.
fn new_namespace() -> File {
    #[allow(deprecated)] // the safe spelling; a network namespace is per thread
    rustix::thread::unshare(UnshareFlags::NEWNET).expect("unshare: run as root");
    File::open("/proc/thread-self/ns/net").unwrap()
}

fn enter(namespace: &File) {
    move_into_link_name_space(namespace.as_fd(), Some(LinkNameSpaceType::Network)).unwrap();
}

/// What `ip ARGS` prints in the calling thread's namespace.
fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(out.status.success(), "ip {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_veth_pair_joins_the_bridge_forwards_and_its_pod_end_gets_an_address_and_a_default_route() {
    std::thread::spawn(|| {
        let host = new_namespace();
        ip(&["link", "add", "krtnl-br0", "type", "bridge"]);
        ip(&["link", "set", "krtnl-br0", "up"]);
        ip(&["addr", "add", "10.99.0.1/24", "dev", "krtnl-br0"]);
        let pod = new_namespace();
        enter(&host);

        let mut link = Netlink::open().unwrap();
        let veth = Veth {
            name: "krtnl-v0",
            bridge: "krtnl-br0",
            mtu: 1400,
            peer: "eth0",
            peer_mac: [0x0a, 0x58, 10, 99, 0, 2],
            peer_netns: pod.as_fd(),
        };
        link.add_veth(&veth).unwrap();
        let again = link.add_veth(&veth).unwrap_err();
        assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
        let index = link.index("krtnl-v0").unwrap();
        link.set_hairpin(index).unwrap();
        let shown = ip(&["-d", "-o", "link", "show", "dev", "krtnl-v0"]);
        assert!(shown.contains("master krtnl-br0"), "{shown}");
        assert!(shown.contains("mtu 1400"), "{shown}");
        assert!(shown.contains("hairpin on"), "{shown}");

        enter(&pod);
        let mut inside = Netlink::open().unwrap();
        let lo = inside.index("lo").unwrap();
        inside.set_up(lo).unwrap();
        let eth0 = inside.index("eth0").unwrap();
        let ip_addr = Ipv4Addr::new(10, 99, 0, 2);
        inside.replace_address(eth0, ip_addr, 24).unwrap();
        inside.replace_address(eth0, ip_addr, 24).unwrap();
        inside.set_up(eth0).unwrap();
        inside
            .replace_default_route(eth0, Ipv4Addr::new(10, 99, 0, 1))
            .unwrap();
        let shown = ip(&["-o", "addr", "show", "dev", "eth0"]);
        assert!(shown.contains("inet 10.99.0.2/24"), "{shown}");
        assert!(
            ip(&["-o", "link", "show", "dev", "eth0"]).contains("link/ether 0a:58:0a:63:00:02")
        );
        assert!(ip(&["-o", "link", "show", "dev", "lo"]).contains("UP"));
        assert_eq!(
            ip(&["route", "show", "default"]).trim(),
            "default via 10.99.0.1 dev eth0"
        );

        enter(&host);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        while !link.forwarding("krtnl-v0").unwrap() {
            assert!(
                std::time::Instant::now() < deadline,
                "the port never forwarded"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        link.delete("krtnl-v0").unwrap();
        let gone = link.delete("krtnl-v0").unwrap_err();
        assert_eq!(gone.raw_os_error(), Some(19), "ENODEV: {gone}");
        enter(&pod);
        assert!(
            Netlink::open().unwrap().index("eth0").is_err(),
            "the peer went with it"
        );
    })
    .join()
    .unwrap();
}
