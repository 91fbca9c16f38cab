//! The DNS server over real UDP and TCP on loopback, with a tiny upstream resolver of the
//! test's own (nothing leaves the machine): cluster names, truncation and the retry over
//! TCP, forwarding, ExternalName targets resolved upstream, an unreachable upstream.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use krust_dns::{Handler, Records, Server, ServiceRecord, SliceRecord, Upstreams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        namespace: Some("default".into()),
        name: Some(name.into()),
        ..Default::default()
    }
}

fn service(name: &str, spec: ServiceSpec) -> ServiceRecord {
    ServiceRecord::from_service(&Service {
        metadata: meta(name),
        spec: Some(spec),
        ..Default::default()
    })
    .unwrap()
}

/// web (10.43.0.20:80), big (headless, 100 endpoints), ext (ExternalName example.org).
fn records() -> Records {
    let ports = Some(vec![ServicePort {
        name: Some("http".into()),
        port: 80,
        ..Default::default()
    }]);
    let services = [
        service(
            "web",
            ServiceSpec {
                cluster_ip: Some("10.43.0.20".into()),
                ports: ports.clone(),
                ..Default::default()
            },
        ),
        service(
            "big",
            ServiceSpec {
                cluster_ip: Some("None".into()),
                ports,
                ..Default::default()
            },
        ),
        service(
            "ext",
            ServiceSpec {
                type_: Some("ExternalName".into()),
                external_name: Some("example.org".into()),
                ..Default::default()
            },
        ),
    ];
    let mut m = meta("big-1");
    m.labels = Some([("kubernetes.io/service-name".to_string(), "big".to_string())].into());
    let slice = EndpointSlice {
        metadata: m,
        address_type: "IPv4".into(),
        endpoints: (1..=100)
            .map(|i| Endpoint {
                addresses: vec![format!("10.42.1.{i}")],
                ..Default::default()
            })
            .collect(),
        ports: None,
    };
    let slice = Arc::new(SliceRecord::from_slice(&slice).unwrap());
    let mut r = Records::new(["default".to_string()], services.iter(), [&slice]);
    r.synced = true;
    r
}

/// An upstream answering every A question with 192.0.2.1, and `many.example.` with 100
/// addresses, over UDP (cut to 512 bytes with TC) and TCP.
async fn upstream() -> SocketAddr {
    fn answer(query: &[u8], udp: bool) -> Vec<u8> {
        let q = Message::from_vec(query).unwrap();
        let mut m = Message::response(q.metadata.id, q.metadata.op_code);
        m.metadata.recursion_available = true;
        m.add_queries(q.queries.iter().cloned());
        let name = q.queries[0].name().clone();
        let count = if name.to_ascii() == "many.example." {
            100
        } else {
            1
        };
        for i in 0..count {
            let ip = [192, 0, 2, 1 + i as u8];
            m.add_answer(Record::from_rdata(name.clone(), 60, RData::A(A(ip.into()))));
        }
        let bytes = m.to_vec().unwrap();
        if udp && bytes.len() > 512 {
            m.answers.clear();
            m.metadata.truncation = true;
            return m.to_vec().unwrap();
        }
        bytes
    }
    // One port for both transports: a UDP port whose TCP twin another process holds is
    // given back and another one tried.
    let (udp, tcp) = loop {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()).await {
            break (udp, tcp);
        }
    };
    let addr = udp.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0; 65535];
        while let Ok((n, peer)) = udp.recv_from(&mut buf).await {
            let _ = udp.send_to(&answer(&buf[..n], true), peer).await;
        }
    });
    tokio::spawn(async move {
        while let Ok((mut s, _)) = tcp.accept().await {
            let len = s.read_u16().await.unwrap();
            let mut q = vec![0; usize::from(len)];
            s.read_exact(&mut q).await.unwrap();
            let a = answer(&q, false);
            s.write_all(&(a.len() as u16).to_be_bytes()).await.unwrap();
            s.write_all(&a).await.unwrap();
        }
    });
    addr
}

async fn server(upstreams: Vec<SocketAddr>) -> Server {
    let (_tx, rx) = tokio::sync::watch::channel(Arc::new(records()));
    // The sender may go: the receiver keeps the last snapshot.
    let handler = Handler::new("cluster.local", rx, Upstreams { servers: upstreams });
    Server::start("127.0.0.1:0".parse().unwrap(), Arc::new(handler))
        .await
        .unwrap()
}

fn query(name: &str, qtype: RecordType) -> Message {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    m
}

async fn over_udp(server: SocketAddr, q: &Message) -> Message {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    s.send_to(&q.to_vec().unwrap(), server).await.unwrap();
    let mut buf = vec![0; 65535];
    let (n, _) = tokio::time::timeout(Duration::from_secs(10), s.recv_from(&mut buf))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    assert!(n <= 512 || q.edns.is_some(), "{n} bytes over UDP");
    let m = Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(
        (m.metadata.id, m.metadata.message_type),
        (q.metadata.id, MessageType::Response)
    );
    m
}

async fn over_tcp(server: SocketAddr, q: &Message) -> Message {
    let mut s = TcpStream::connect(server).await.unwrap();
    let bytes = q.to_vec().unwrap();
    s.write_all(&(bytes.len() as u16).to_be_bytes())
        .await
        .unwrap();
    s.write_all(&bytes).await.unwrap();
    let len = s.read_u16().await.unwrap();
    let mut buf = vec![0; usize::from(len)];
    s.read_exact(&mut buf).await.unwrap();
    Message::from_vec(&buf).unwrap()
}

fn addresses(m: &Message) -> Vec<IpAddr> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn cluster_names_are_answered_over_udp_and_tcp() {
    let s = server(vec![]).await;
    let q = query("web.default.svc.cluster.local.", RecordType::A);
    for m in [over_udp(s.addr, &q).await, over_tcp(s.addr, &q).await] {
        assert_eq!(addresses(&m), ["10.43.0.20".parse::<IpAddr>().unwrap()]);
        assert!(m.metadata.authoritative);
    }
    let m = over_udp(
        s.addr,
        &query("nope.default.svc.cluster.local.", RecordType::A),
    )
    .await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(m.authorities.len(), 1);
}

#[tokio::test]
async fn a_big_answer_is_truncated_over_udp_and_whole_over_tcp() {
    let s = server(vec![]).await;
    let q = query("big.default.svc.cluster.local.", RecordType::A);
    let udp = over_udp(s.addr, &q).await;
    assert!(udp.metadata.truncation);
    assert!(addresses(&udp).len() < 100);
    let tcp = over_tcp(s.addr, &q).await;
    assert!(!tcp.metadata.truncation);
    assert_eq!(addresses(&tcp).len(), 100);
    // A client offering 4096 bytes over EDNS gets all of it over UDP (as CoreDNS).
    let mut big = q.clone();
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    big.set_edns(edns);
    let s2 = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    s2.send_to(&big.to_vec().unwrap(), s.addr).await.unwrap();
    let mut buf = vec![0; 65535];
    let (n, _) = s2.recv_from(&mut buf).await.unwrap();
    let whole = Message::from_vec(&buf[..n]).unwrap();
    assert!(n > 512 && !whole.metadata.truncation, "{n}");
    assert_eq!(addresses(&whole).len(), 100);
    assert_eq!(whole.edns.unwrap().max_payload(), 4096);
}

#[tokio::test]
async fn other_names_are_forwarded_to_the_upstream_over_the_clients_transport() {
    let s = server(vec![upstream().await]).await;
    let q = query("example.org.", RecordType::A);
    let m = over_udp(s.addr, &q).await;
    assert_eq!(addresses(&m), ["192.0.2.1".parse::<IpAddr>().unwrap()]);
    assert!(m.metadata.recursion_available, "the upstream's own flags");
    let many = query("many.example.", RecordType::A);
    let udp = over_udp(s.addr, &many).await;
    assert!(udp.metadata.truncation);
    assert_eq!(addresses(&over_tcp(s.addr, &many).await).len(), 100);
}

#[tokio::test]
async fn an_external_names_target_is_resolved_upstream_after_its_cname() {
    let s = server(vec![upstream().await]).await;
    let m = over_udp(
        s.addr,
        &query("ext.default.svc.cluster.local.", RecordType::A),
    )
    .await;
    assert_eq!(m.answers.len(), 2, "{m:?}");
    assert!(matches!(&m.answers[0].data, RData::CNAME(c) if c.0.to_ascii() == "example.org."));
    assert_eq!(addresses(&m), ["192.0.2.1".parse::<IpAddr>().unwrap()]);
}

#[tokio::test]
async fn without_an_upstream_that_answers_other_names_fail_with_servfail() {
    // Port 9 of loopback: nothing listens (ICMP port unreachable).
    let s = server(vec!["127.0.0.1:9".parse().unwrap()]).await;
    let m = over_udp(s.addr, &query("example.org.", RecordType::A)).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    // An ExternalName whose target cannot be resolved: NODATA, the CNAME left out (CoreDNS).
    let m = over_udp(
        s.addr,
        &query("ext.default.svc.cluster.local.", RecordType::A),
    )
    .await;
    assert_eq!(
        (m.metadata.response_code, m.answers.len()),
        (ResponseCode::NoError, 0)
    );
}
