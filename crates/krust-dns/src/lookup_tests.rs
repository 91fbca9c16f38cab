//! The lookup as a pure function: a snapshot of Services and EndpointSlices, a question,
//! the answer CoreDNS' kubernetes plugin gives.

use std::sync::Arc;

use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::lookup::{Answer, Outcome, lookup};
use crate::records::{Records, ServiceRecord, SliceRecord};
use crate::response;

fn meta(ns: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        namespace: Some(ns.into()),
        name: Some(name.into()),
        ..Default::default()
    }
}

fn port(name: &str, protocol: &str, port: i32) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        protocol: Some(protocol.into()),
        port,
        ..Default::default()
    }
}

fn service(ns: &str, name: &str, cluster_ip: &str, ports: Vec<ServicePort>) -> Service {
    Service {
        metadata: meta(ns, name),
        spec: Some(ServiceSpec {
            cluster_ip: Some(cluster_ip.into()),
            ports: Some(ports),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn external(ns: &str, name: &str, target: &str) -> Service {
    Service {
        metadata: meta(ns, name),
        spec: Some(ServiceSpec {
            type_: Some("ExternalName".into()),
            external_name: Some(target.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An endpoint: address, hostname, ready.
type Ep<'a> = (&'a str, Option<&'a str>, bool);

fn slice(
    ns: &str,
    svc: &str,
    name: &str,
    endpoints: &[Ep],
    ports: &[(&str, &str, i32)],
) -> EndpointSlice {
    let mut m = meta(ns, name);
    m.labels = Some([("kubernetes.io/service-name".to_string(), svc.to_string())].into());
    EndpointSlice {
        metadata: m,
        address_type: "IPv4".into(),
        endpoints: endpoints
            .iter()
            .map(|(ip, hostname, ready)| Endpoint {
                addresses: vec![ip.to_string()],
                hostname: hostname.map(String::from),
                conditions: Some(EndpointConditions {
                    ready: Some(*ready),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect(),
        ports: Some(
            ports
                .iter()
                .map(|(n, p, port)| EndpointPort {
                    name: Some(n.to_string()),
                    protocol: Some(p.to_string()),
                    port: Some(*port),
                    app_protocol: None,
                })
                .collect(),
        ),
    }
}

/// default: web (10.43.0.20, http 80 + dns 53/UDP), db (headless, db-0 with a hostname,
/// one unnamed-host endpoint, one not ready), ext (ExternalName example.org), alias
/// (ExternalName web.default.svc.cluster.local), empty (headless, no endpoints).
pub(crate) fn cluster() -> Records {
    let services = [
        service(
            "default",
            "web",
            "10.43.0.20",
            vec![port("http", "TCP", 80), port("dns", "UDP", 53)],
        ),
        service("default", "db", "None", vec![port("pg", "TCP", 5432)]),
        service("default", "empty", "None", vec![port("pg", "TCP", 5432)]),
        external("default", "ext", "example.org"),
        external("default", "alias", "web.default.svc.cluster.local"),
        service(
            "kube-system",
            "kube-dns",
            "10.43.0.10",
            vec![port("dns", "UDP", 53)],
        ),
    ];
    let slices = [
        slice(
            "default",
            "db",
            "db-abc",
            &[
                ("10.42.0.5", Some("db-0"), true),
                ("10.42.0.6", None, true),
                ("10.42.0.7", None, false),
            ],
            &[("pg", "TCP", 5432)],
        ),
        slice(
            "default",
            "web",
            "web-abc",
            &[("10.42.0.9", None, true)],
            &[("http", "TCP", 8080)],
        ),
    ];
    let services: Vec<ServiceRecord> = services
        .iter()
        .filter_map(ServiceRecord::from_service)
        .collect();
    let slices: Vec<Arc<SliceRecord>> = slices
        .iter()
        .filter_map(SliceRecord::from_slice)
        .map(Arc::new)
        .collect();
    let mut r = Records::new(
        ["default", "kube-system"].map(String::from),
        services.iter(),
        slices.iter(),
    );
    r.synced = true;
    r.serial = 1_700_000_000;
    r
}

fn zone() -> Name {
    Name::from_ascii("cluster.local.").unwrap()
}

fn ask(records: &Records, name: &str, qtype: RecordType) -> Answer {
    match lookup(records, &zone(), &Name::from_ascii(name).unwrap(), qtype) {
        Outcome::Answer(a) => a,
        Outcome::Forward => panic!("{name} {qtype} was forwarded"),
    }
}

/// The answer section as `name type data` lines.
fn lines(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| format!("{} {} {} {}", r.name, r.ttl, r.record_type(), r.data))
        .collect()
}

#[test]
fn a_service_name_answers_its_cluster_ip_with_ttl_5() {
    let a = ask(&cluster(), "web.default.svc.cluster.local.", RecordType::A);
    assert_eq!(a.rcode, ResponseCode::NoError);
    assert_eq!(
        lines(&a.answers),
        ["web.default.svc.cluster.local. 5 A 10.43.0.20"]
    );
    let upper = ask(&cluster(), "WEB.Default.svc.cluster.local.", RecordType::A);
    assert_eq!(
        lines(&upper.answers),
        ["WEB.Default.svc.cluster.local. 5 A 10.43.0.20"]
    );
}

#[test]
fn a_name_that_exists_without_the_type_is_nodata_and_one_that_does_not_is_nxdomain() {
    let r = cluster();
    let nodata = ask(&r, "web.default.svc.cluster.local.", RecordType::AAAA);
    assert_eq!(
        (nodata.rcode, nodata.answers.len()),
        (ResponseCode::NoError, 0)
    );
    let nodata = ask(&r, "web.default.svc.cluster.local.", RecordType::MX);
    assert_eq!(
        (nodata.rcode, nodata.answers.len()),
        (ResponseCode::NoError, 0)
    );
    for name in [
        "nope.default.svc.cluster.local.",
        "web.nowhere.svc.cluster.local.",
        "nowhere.svc.cluster.local.",
        "foo.cluster.local.",
        "a.b.c.web.default.svc.cluster.local.",
        "_http._udp.web.default.svc.cluster.local.",
    ] {
        assert_eq!(
            ask(&r, name, RecordType::A).rcode,
            ResponseCode::NXDomain,
            "{name}"
        );
    }
    for name in [
        "cluster.local.",
        "svc.cluster.local.",
        "default.svc.cluster.local.",
        "default.pod.cluster.local.",
    ] {
        let a = ask(&r, name, RecordType::A);
        assert_eq!(
            (a.rcode, a.answers.len()),
            (ResponseCode::NoError, 0),
            "{name}"
        );
    }
}

#[test]
fn a_headless_service_answers_one_record_per_ready_endpoint() {
    let r = cluster();
    let a = ask(&r, "db.default.svc.cluster.local.", RecordType::A);
    assert_eq!(
        lines(&a.answers),
        [
            "db.default.svc.cluster.local. 5 A 10.42.0.5",
            "db.default.svc.cluster.local. 5 A 10.42.0.6"
        ]
    );
    let host = ask(&r, "db-0.db.default.svc.cluster.local.", RecordType::A);
    assert_eq!(
        lines(&host.answers),
        ["db-0.db.default.svc.cluster.local. 5 A 10.42.0.5"]
    );
    let dashed = ask(&r, "10-42-0-6.db.default.svc.cluster.local.", RecordType::A);
    assert_eq!(
        lines(&dashed.answers),
        ["10-42-0-6.db.default.svc.cluster.local. 5 A 10.42.0.6"]
    );
    // Not ready: no name.
    let unready = ask(&r, "10-42-0-7.db.default.svc.cluster.local.", RecordType::A);
    assert_eq!(unready.rcode, ResponseCode::NXDomain);
    // An endpoint of a ClusterIP Service has a name too.
    let ep = ask(
        &r,
        "10-42-0-9.web.default.svc.cluster.local.",
        RecordType::A,
    );
    assert_eq!(
        lines(&ep.answers),
        ["10-42-0-9.web.default.svc.cluster.local. 5 A 10.42.0.9"]
    );
}

#[test]
fn a_headless_service_without_ready_endpoints_is_nxdomain() {
    let a = ask(
        &cluster(),
        "empty.default.svc.cluster.local.",
        RecordType::A,
    );
    assert_eq!(a.rcode, ResponseCode::NXDomain);
}

#[test]
fn srv_records_name_the_port_and_the_service_with_its_address_beside() {
    let r = cluster();
    let a = ask(
        &r,
        "_http._tcp.web.default.svc.cluster.local.",
        RecordType::SRV,
    );
    assert_eq!(
        lines(&a.answers),
        ["_http._tcp.web.default.svc.cluster.local. 5 SRV 0 100 80 web.default.svc.cluster.local."]
    );
    assert_eq!(
        lines(&a.additionals),
        ["web.default.svc.cluster.local. 5 A 10.43.0.20"]
    );
    // All ports of the service, weights sharing 100.
    let all = ask(&r, "web.default.svc.cluster.local.", RecordType::SRV);
    assert_eq!(
        lines(&all.answers),
        [
            "web.default.svc.cluster.local. 5 SRV 0 50 80 web.default.svc.cluster.local.",
            "web.default.svc.cluster.local. 5 SRV 0 50 53 web.default.svc.cluster.local."
        ]
    );
    assert_eq!(all.additionals.len(), 1);
    // A headless Service: one per endpoint, each target its endpoint's name.
    let db = ask(
        &r,
        "_pg._tcp.db.default.svc.cluster.local.",
        RecordType::SRV,
    );
    assert_eq!(
        lines(&db.answers),
        [
            "_pg._tcp.db.default.svc.cluster.local. 5 SRV 0 50 5432 db-0.db.default.svc.cluster.local.",
            "_pg._tcp.db.default.svc.cluster.local. 5 SRV 0 50 5432 10-42-0-6.db.default.svc.cluster.local."
        ]
    );
    assert_eq!(
        lines(&db.additionals),
        [
            "db-0.db.default.svc.cluster.local. 5 A 10.42.0.5",
            "10-42-0-6.db.default.svc.cluster.local. 5 A 10.42.0.6"
        ]
    );
}

#[test]
fn reverse_names_of_service_and_endpoint_addresses_have_ptr_records() {
    let r = cluster();
    let svc = ask(&r, "20.0.43.10.in-addr.arpa.", RecordType::PTR);
    assert_eq!(
        lines(&svc.answers),
        ["20.0.43.10.in-addr.arpa. 5 PTR web.default.svc.cluster.local."]
    );
    let ep = ask(&r, "5.0.42.10.in-addr.arpa.", RecordType::PTR);
    assert_eq!(
        lines(&ep.answers),
        ["5.0.42.10.in-addr.arpa. 5 PTR db-0.db.default.svc.cluster.local."]
    );
    // Anything else in the reverse zones goes upstream (`fallthrough`).
    let other = lookup(
        &r,
        &zone(),
        &Name::from_ascii("1.1.168.192.in-addr.arpa.").unwrap(),
        RecordType::PTR,
    );
    assert!(matches!(other, Outcome::Forward));
}

#[test]
fn pod_names_carry_their_address() {
    let r = cluster();
    let a = ask(&r, "10-42-0-77.default.pod.cluster.local.", RecordType::A);
    assert_eq!(
        lines(&a.answers),
        ["10-42-0-77.default.pod.cluster.local. 5 A 10.42.0.77"]
    );
    assert_eq!(
        ask(&r, "not-an-ip.default.pod.cluster.local.", RecordType::A).rcode,
        ResponseCode::NXDomain
    );
    assert_eq!(
        ask(&r, "10-42-0-77.nowhere.pod.cluster.local.", RecordType::A).rcode,
        ResponseCode::NXDomain
    );
}

#[test]
fn an_external_name_is_a_cname_followed_within_the_zone_and_chased_outside() {
    let r = cluster();
    let alias = ask(&r, "alias.default.svc.cluster.local.", RecordType::A);
    assert_eq!(
        lines(&alias.answers),
        [
            "alias.default.svc.cluster.local. 5 CNAME web.default.svc.cluster.local.",
            "web.default.svc.cluster.local. 5 A 10.43.0.20"
        ]
    );
    let ext = ask(&r, "ext.default.svc.cluster.local.", RecordType::A);
    assert!(ext.answers.is_empty());
    let chase = ext.chase.expect("a chase");
    assert_eq!(chase.target.to_ascii(), "example.org.");
    assert_eq!(
        lines(&[chase.cname]),
        ["ext.default.svc.cluster.local. 5 CNAME example.org."]
    );
    let cname = ask(&r, "ext.default.svc.cluster.local.", RecordType::CNAME);
    assert_eq!(
        lines(&cname.answers),
        ["ext.default.svc.cluster.local. 5 CNAME example.org."]
    );
    // ExternalNames have no SRV records: NODATA.
    let srv = ask(&r, "ext.default.svc.cluster.local.", RecordType::SRV);
    assert_eq!((srv.rcode, srv.answers.len()), (ResponseCode::NoError, 0));
}

#[test]
fn the_zone_has_an_soa_a_name_server_and_a_version() {
    let r = cluster();
    let soa = ask(&r, "cluster.local.", RecordType::SOA);
    assert_eq!(
        lines(&soa.answers),
        [
            "cluster.local. 5 SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5"
        ]
    );
    let ns = ask(&r, "cluster.local.", RecordType::NS);
    assert_eq!(
        lines(&ns.answers),
        ["cluster.local. 5 NS ns.dns.cluster.local."]
    );
    assert_eq!(
        lines(&ns.additionals),
        ["ns.dns.cluster.local. 5 A 10.43.0.10"]
    );
    let version = ask(&r, "dns-version.cluster.local.", RecordType::TXT);
    assert_eq!(version.answers.len(), 1);
    assert_eq!(
        ask(&r, "cluster.local.", RecordType::AXFR).rcode,
        ResponseCode::Refused
    );
}

#[test]
fn names_outside_the_zone_are_forwarded() {
    let r = cluster();
    for name in ["example.org.", "local.", "xcluster.local."] {
        let outcome = lookup(&r, &zone(), &Name::from_ascii(name).unwrap(), RecordType::A);
        assert!(matches!(outcome, Outcome::Forward), "{name}");
    }
}

#[test]
fn before_the_watches_list_an_unknown_name_is_servfail() {
    let mut r = cluster();
    r.synced = false;
    let a = ask(&r, "nope.default.svc.cluster.local.", RecordType::A);
    assert_eq!(a.rcode, ResponseCode::ServFail);
}

fn query(name: &str, qtype: RecordType, edns: Option<u16>) -> Message {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m
}

#[test]
fn negative_answers_carry_the_zones_soa_and_are_authoritative() {
    let r = cluster();
    let request = query("nope.default.svc.cluster.local.", RecordType::A, None);
    let answer = ask(&r, "nope.default.svc.cluster.local.", RecordType::A);
    let m = response::authoritative(&request, answer, &zone(), r.serial);
    assert!(m.metadata.authoritative && !m.metadata.recursion_available);
    assert!(m.metadata.recursion_desired);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(m.authorities.len(), 1);
    assert!(matches!(&m.authorities[0].data, RData::SOA(_)));
}

#[test]
fn a_udp_answer_too_big_for_the_client_is_cut_with_tc_set() {
    let endpoints: Vec<String> = (1..=100).map(|i| format!("10.42.1.{i}")).collect();
    let eps: Vec<Ep> = endpoints
        .iter()
        .map(|ip| (ip.as_str(), None, true))
        .collect();
    let s = SliceRecord::from_slice(&slice("default", "big", "big-1", &eps, &[("p", "TCP", 1)]))
        .unwrap();
    let svc = ServiceRecord::from_service(&service(
        "default",
        "big",
        "None",
        vec![port("p", "TCP", 1)],
    ))
    .unwrap();
    let mut r = Records::new(["default".to_string()], [&svc], [&Arc::new(s)]);
    r.synced = true;
    let name = "big.default.svc.cluster.local.";
    for (edns, limit) in [(None, 512), (Some(1232), 1232)] {
        let request = query(name, RecordType::A, edns);
        let m = response::authoritative(&request, ask(&r, name, RecordType::A), &zone(), 1);
        let bytes = response::encode_within(&m, response::udp_size(&request));
        assert!(bytes.len() <= limit, "{} > {limit}", bytes.len());
        let cut = Message::from_vec(&bytes).unwrap();
        assert!(cut.metadata.truncation);
        assert!(!cut.answers.is_empty() && cut.answers.len() < 100);
        assert_eq!(cut.edns.is_some(), edns.is_some());
        // Over TCP, all of it.
        let whole = Message::from_vec(&response::encode_within(&m, 65535)).unwrap();
        assert_eq!(
            (whole.answers.len(), whole.metadata.truncation),
            (100, false)
        );
    }
}
