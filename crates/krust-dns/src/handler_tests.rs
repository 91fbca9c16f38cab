//! The server's handler on the wire: queries in, packets out, as a client sees them.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::sync::watch;

use crate::forward::Upstreams;
use crate::lookup_tests::cluster;
use crate::records::Records;
use crate::server::Handler;

fn handler(records: Records) -> (watch::Sender<Arc<Records>>, Handler) {
    let (tx, rx) = watch::channel(Arc::new(records));
    (tx, Handler::new("cluster.local", rx, Upstreams::default()))
}

fn query(id: u16, name: &str, qtype: RecordType, edns: Option<u16>) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = id;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

fn ask(h: &Handler, id: u16, name: &str, qtype: RecordType, edns: Option<u16>) -> Message {
    let bytes = h.local(&query(id, name, qtype, edns), false);
    let Ok(Some(bytes)) = bytes else {
        panic!("{name} not answered at once")
    };
    Message::from_vec(&bytes).unwrap()
}

fn lines(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| format!("{} {} {} {}", r.name, r.ttl, r.record_type(), r.data))
        .collect()
}

#[test]
fn a_name_asked_again_in_another_case_is_answered_in_that_case() {
    let (_tx, h) = handler(cluster());
    let first = ask(&h, 1, "web.default.svc.cluster.local.", RecordType::A, None);
    let again = ask(&h, 2, "WEB.Default.SVC.cluster.local.", RecordType::A, None);
    assert_eq!(again.metadata.id, 2);
    assert_eq!(
        again.queries[0].name().to_ascii(),
        "WEB.Default.SVC.cluster.local."
    );
    assert_eq!(
        lines(&again.answers),
        ["WEB.Default.SVC.cluster.local. 5 A 10.43.0.20"]
    );
    assert_eq!(
        lines(&first.answers),
        ["web.default.svc.cluster.local. 5 A 10.43.0.20"]
    );
    assert!(again.metadata.authoritative && again.metadata.recursion_desired);
}

#[test]
fn a_headless_services_addresses_take_turns_at_coming_first() {
    let (_tx, h) = handler(cluster());
    let name = "db.default.svc.cluster.local.";
    let firsts: Vec<String> = (0..4)
        .map(|i| {
            let m = ask(&h, i, name, RecordType::A, None);
            let mut all = lines(&m.answers);
            let first = all[0].clone();
            all.sort();
            assert_eq!(
                all,
                [
                    "db.default.svc.cluster.local. 5 A 10.42.0.5",
                    "db.default.svc.cluster.local. 5 A 10.42.0.6"
                ]
            );
            first
        })
        .collect();
    assert_ne!(firsts[0], firsts[1]);
    assert_eq!(firsts[0], firsts[2]);
}

#[test]
fn a_changed_cluster_is_answered_at_once_though_the_name_was_asked_before() {
    let (tx, h) = handler(cluster());
    let name = "web.default.svc.cluster.local.";
    ask(&h, 1, name, RecordType::A, None);
    ask(&h, 2, name, RecordType::A, None);
    let mut gone = Records::new(["default".to_string()], [], []);
    gone.synced = true;
    tx.send_replace(Arc::new(gone));
    let m = ask(&h, 3, name, RecordType::A, None);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
}

#[test]
fn an_edns_query_gets_an_opt_record_back_and_a_plain_one_none() {
    let (_tx, h) = handler(cluster());
    let name = "web.default.svc.cluster.local.";
    for _ in 0..2 {
        let plain = ask(&h, 1, name, RecordType::A, None);
        assert!(plain.edns.is_none());
        let edns = ask(&h, 1, name, RecordType::A, Some(1232));
        assert_eq!(edns.edns.expect("an OPT record").max_payload(), 1232);
        let small = ask(&h, 1, name, RecordType::A, Some(100));
        assert_eq!(small.edns.expect("an OPT record").max_payload(), 512);
    }
}

#[test]
fn an_unknown_name_is_nxdomain_and_a_missing_type_nodata_each_time_asked() {
    let (_tx, h) = handler(cluster());
    for _ in 0..2 {
        let nx = ask(
            &h,
            1,
            "nope.default.svc.cluster.local.",
            RecordType::A,
            None,
        );
        assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
        assert_eq!(nx.authorities.len(), 1);
        let nodata = ask(
            &h,
            1,
            "web.default.svc.cluster.local.",
            RecordType::AAAA,
            None,
        );
        assert_eq!(
            (nodata.metadata.response_code, nodata.answers.len()),
            (ResponseCode::NoError, 0)
        );
        assert_eq!(nodata.authorities.len(), 1);
    }
}

#[test]
fn srv_records_of_a_headless_services_named_port_target_each_endpoint() {
    let (_tx, h) = handler(cluster());
    let m = ask(
        &h,
        1,
        "_PG._tcp.db.default.svc.cluster.local.",
        RecordType::SRV,
        None,
    );
    let mut answers = lines(&m.answers);
    answers.sort();
    assert_eq!(
        answers,
        [
            "_PG._tcp.db.default.svc.cluster.local. 5 SRV 0 50 5432 10-42-0-6.db.default.svc.cluster.local.",
            "_PG._tcp.db.default.svc.cluster.local. 5 SRV 0 50 5432 db-0.db.default.svc.cluster.local."
        ]
    );
    assert_eq!(m.additionals.len(), 2);
}

#[test]
fn a_reverse_name_of_a_service_or_pod_address_has_its_ptr_on_the_wire() {
    let (_tx, h) = handler(cluster());
    let svc = ask(&h, 1, "20.0.43.10.in-addr.arpa.", RecordType::PTR, None);
    assert_eq!(
        lines(&svc.answers),
        ["20.0.43.10.in-addr.arpa. 5 PTR web.default.svc.cluster.local."]
    );
    let pod = ask(&h, 1, "6.0.42.10.IN-ADDR.ARPA.", RecordType::PTR, None);
    assert_eq!(
        lines(&pod.answers),
        ["6.0.42.10.IN-ADDR.ARPA. 5 PTR 10-42-0-6.db.default.svc.cluster.local."]
    );
}

/// A cluster with a headless Service of 100 endpoints.
fn big() -> Records {
    use crate::records::{Address, Port, ServiceKind, ServiceRecord, SliceRecord};
    let svc = ServiceRecord {
        namespace: "default".into(),
        name: "big".into(),
        kind: ServiceKind::Headless,
        ports: vec![],
    };
    let slice = SliceRecord {
        namespace: "default".into(),
        service: "big".into(),
        addresses: (1..=100)
            .map(|i| Address {
                ip: Ipv4Addr::new(10, 42, 1, i).into(),
                hostname: None,
            })
            .collect(),
        ports: vec![Port {
            name: String::new(),
            protocol: String::new(),
            port: -1,
        }],
    };
    let mut r = Records::new(["default".to_string()], [&svc], [&Arc::new(slice)]);
    r.synced = true;
    r
}

#[test]
fn a_big_answer_is_cut_with_tc_over_udp_and_whole_over_tcp() {
    let (_tx, h) = handler(big());
    let name = "big.default.svc.cluster.local.";
    for _ in 0..2 {
        for (edns, limit) in [(None, 512), (Some(1232), 1232)] {
            let bytes = h.local(&query(7, name, RecordType::A, edns), false);
            let Ok(Some(bytes)) = bytes else { panic!() };
            assert!(bytes.len() <= limit, "{} > {limit}", bytes.len());
            let m = Message::from_vec(&bytes).unwrap();
            assert!(m.metadata.truncation);
            assert!(!m.answers.is_empty() && m.answers.len() < 100);
        }
        let bytes = h.local(&query(7, name, RecordType::A, None), true);
        let Ok(Some(bytes)) = bytes else { panic!() };
        let m = Message::from_vec(&bytes).unwrap();
        assert_eq!((m.answers.len(), m.metadata.truncation), (100, false));
    }
}

/// A resolver on loopback answering `A 192.0.2.1` with `ttl`, counting the queries.
async fn upstream(ttl: u32) -> (Upstreams, Arc<AtomicUsize>) {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let count = asked.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
            count.fetch_add(1, Ordering::SeqCst);
            let q = Message::from_vec(&buf[..n]).unwrap();
            let mut m = crate::response::reply(&q);
            m.metadata.recursion_available = true;
            let name = q.queries[0].name().clone();
            m.answers.push(Record::from_rdata(
                name,
                ttl,
                RData::A(A(Ipv4Addr::new(192, 0, 2, 1))),
            ));
            let _ = socket.send_to(&m.to_vec().unwrap(), peer).await;
        }
    });
    (
        Upstreams {
            servers: vec![addr],
        },
        asked,
    )
}

#[tokio::test]
async fn a_forwarded_name_asked_twice_reaches_the_upstream_once_and_ages() {
    let (upstreams, asked) = upstream(300).await;
    let (_tx, rx) = watch::channel(Arc::new(cluster()));
    let h = Handler::new("cluster.local", rx, upstreams);
    let first = h
        .answer(&query(1, "example.org.", RecordType::A, None), false)
        .await
        .unwrap();
    let first = Message::from_vec(&first).unwrap();
    assert_eq!(lines(&first.answers), ["example.org. 300 A 192.0.2.1"]);
    let again = h
        .answer(&query(2, "EXAMPLE.org.", RecordType::A, None), false)
        .await
        .unwrap();
    let again = Message::from_vec(&again).unwrap();
    assert_eq!(again.metadata.id, 2);
    assert_eq!(again.queries[0].name().to_ascii(), "EXAMPLE.org.");
    // Kept 30 s at most (`cache 30`), and said so.
    assert_eq!(lines(&again.answers), ["example.org. 30 A 192.0.2.1"]);
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    // Another type is another question.
    h.answer(&query(3, "example.org.", RecordType::AAAA, None), false)
        .await
        .unwrap();
    assert_eq!(asked.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_forwarded_answer_is_asked_again_once_its_ttl_has_passed() {
    let (upstreams, asked) = upstream(1).await;
    let (_tx, rx) = watch::channel(Arc::new(cluster()));
    let h = Handler::new("cluster.local", rx, upstreams);
    let q = query(1, "example.org.", RecordType::A, None);
    h.answer(&q, false).await.unwrap();
    h.answer(&q, false).await.unwrap();
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    h.answer(&q, false).await.unwrap();
    assert_eq!(asked.load(Ordering::SeqCst), 2);
}

#[test]
fn negative_and_failed_upstream_answers_are_kept_as_rfc_2308_says_or_not_at_all() {
    use crate::cache::Cache;
    let request = Message::from_vec(&query(1, "nope.example.", RecordType::A, None)).unwrap();
    let soa = |ttl: u32, minimum: u32| {
        let zone = Name::from_ascii("example.").unwrap();
        let rdata = SOA::new(zone.clone(), zone.clone(), 1, 1, 1, 1, minimum);
        Record::from_rdata(zone, ttl, RData::SOA(rdata))
    };
    let answer = |rcode: ResponseCode, authority: Option<Record>, truncated: bool| {
        let mut m = crate::response::reply(&request);
        m.metadata.response_code = rcode;
        m.metadata.truncation = truncated;
        m.authorities.extend(authority);
        m.to_vec().unwrap()
    };
    let kept = |bytes: Vec<u8>| {
        let cache = Cache::default();
        cache.put(&request, &bytes);
        cache
            .get(&request)
            .map(|m| m.authorities.first().map_or(0, |r| r.ttl))
    };
    assert_eq!(
        kept(answer(ResponseCode::NXDomain, Some(soa(3600, 10)), false)),
        Some(10)
    );
    assert_eq!(
        kept(answer(ResponseCode::NoError, Some(soa(3600, 600)), false)),
        Some(30)
    );
    assert_eq!(kept(answer(ResponseCode::NXDomain, None, false)), None);
    assert_eq!(
        kept(answer(ResponseCode::ServFail, Some(soa(60, 60)), false)),
        None
    );
    assert_eq!(
        kept(answer(ResponseCode::NXDomain, Some(soa(60, 60)), true)),
        None
    );
}
