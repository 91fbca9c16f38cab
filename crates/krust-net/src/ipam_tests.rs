use super::*;
use crate::config::Protocol;

fn ipam(range: &str) -> Ipam {
    let dir = tempfile::tempdir().unwrap();
    Ipam::load(dir.path(), range.parse().unwrap()).unwrap()
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn tcp(host_port: u16) -> HostPort {
    HostPort {
        host_port,
        container_port: 80,
        protocol: Protocol::Tcp,
        host_ip: None,
    }
}

#[test]
fn addresses_start_after_the_gateway_and_a_pod_keeps_its_own() {
    let mut ipam = ipam("10.42.0.0/24");
    assert_eq!(ipam.allocate("a", &[]).unwrap(), ip("10.42.0.2"));
    assert_eq!(ipam.allocate("b", &[]).unwrap(), ip("10.42.0.3"));
    assert_eq!(ipam.allocate("a", &[]).unwrap(), ip("10.42.0.2"));
}

#[test]
fn a_freed_address_is_not_handed_out_again_at_once() {
    let mut ipam = ipam("10.42.0.0/24");
    ipam.allocate("a", &[]).unwrap();
    ipam.release("a");
    assert_eq!(ipam.allocate("b", &[]).unwrap(), ip("10.42.0.3"));
}

#[test]
fn the_search_wraps_around_and_never_hands_out_broadcast_or_gateway() {
    let mut ipam = ipam("10.42.0.0/29"); // .2 to .6 usable
    for (uid, want) in ["a", "b", "c", "d", "e"].iter().zip(2..=6) {
        assert_eq!(
            ipam.allocate(uid, &[]).unwrap(),
            Ipv4Addr::new(10, 42, 0, want)
        );
    }
    assert!(matches!(ipam.allocate("f", &[]), Err(Error::Exhausted(_))));
    ipam.release("b");
    assert_eq!(ipam.allocate("f", &[]).unwrap(), ip("10.42.0.3"));
}

#[test]
fn a_range_with_no_room_after_the_gateway_is_exhausted() {
    let mut ipam = ipam("10.42.0.0/31");
    assert!(matches!(ipam.allocate("a", &[]), Err(Error::Exhausted(_))));
}

#[test]
fn a_host_port_held_by_another_pod_is_refused_and_nothing_changes() {
    let mut ipam = ipam("10.42.0.0/24");
    ipam.allocate("a", &[tcp(8080)]).unwrap();
    let err = ipam.allocate("b", &[tcp(8080)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "hostPort 8080/tcp is already taken by pod a"
    );
    assert!(ipam.get("b").is_none());
    // Other protocol, other address, or the same pod again: fine.
    let udp = HostPort {
        protocol: Protocol::Udp,
        ..tcp(8080)
    };
    ipam.allocate("b", &[udp]).unwrap();
    ipam.allocate("a", &[tcp(8080)]).unwrap();
    let bound = HostPort {
        host_ip: Some(ip("192.0.2.1")),
        ..tcp(9090)
    };
    let other = HostPort {
        host_ip: Some(ip("192.0.2.2")),
        ..tcp(9090)
    };
    ipam.allocate("c", &[bound]).unwrap();
    ipam.allocate("d", &[other]).unwrap();
    assert!(ipam.allocate("e", &[tcp(9090)]).is_err());
}

#[test]
fn allocations_survive_a_reload_and_those_outside_the_range_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let mut ipam = Ipam::load(dir.path(), "10.42.0.0/24".parse().unwrap()).unwrap();
    ipam.allocate("a", &[tcp(8080)]).unwrap();
    ipam.allocate("b", &[]).unwrap();
    ipam.save(dir.path()).unwrap();

    let mut again = Ipam::load(dir.path(), "10.42.0.0/24".parse().unwrap()).unwrap();
    assert_eq!(again.get("a").unwrap().host_ports, vec![tcp(8080)]);
    assert_eq!(again.allocate("c", &[]).unwrap(), ip("10.42.0.4"));

    let moved = Ipam::load(dir.path(), "10.42.1.0/24".parse().unwrap()).unwrap();
    assert_eq!(moved.pods().count(), 0);
}

#[test]
fn a_corrupt_state_file_is_an_error_not_a_fresh_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(FILE), "{not json").unwrap();
    let err = Ipam::load(dir.path(), "10.42.0.0/24".parse().unwrap()).unwrap_err();
    assert!(matches!(err, Error::State { .. }), "{err}");
}
