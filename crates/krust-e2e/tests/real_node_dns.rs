//! The cluster DNS on a real node (root): the `kube-system/kube-dns` Service at the tenth
//! service address and the node's EndpointSlice naming its server on the bridge's gateway,
//! pods' `/etc/resolv.conf` per `dnsPolicy` (ClusterFirst, ClusterFirstWithHostNet, Default,
//! None), and busybox's `nslookup` inside a pod asking the
//! node's server directly (the gateway; the Service address needs the service proxy): a
//! Service, a headless Service and its pod's hostname, SRV, PTR, an ExternalName, and an
//! unknown name. From the host, through the kube-dns Service: UDP and TCP, NODATA and
//! NXDOMAIN, a pod record, and a truncated UDP answer whose whole is over TCP. Names outside
//! the cluster go to the resolvers of the node's `--resolv-conf` (an upstream of the test's
//! own on a loopback address), which `dnsPolicy: Default` pods get too.

mod real_node_support;

use std::time::Duration;

use krust_dns::hickory_proto::op::{Edns, Message, Query, ResponseCode};
use krust_dns::hickory_proto::rr::{Name, RecordType};
use krust_e2e::{Cluster, ROLLOUT_TIMEOUT, true_within};
use real_node_support::*;

/// The last octet of the test's ranges (`Cluster::start_real_node`).
fn n() -> u32 {
    128 + krust_e2e::test_number()
}

/// `nslookup ARGS` in the pod against the node's DNS server: its output (and errors).
fn nslookup(c: &Cluster, pod: &str, server: &str, args: &str) -> String {
    sh(c, pod, &format!("nslookup {args} {server} 2>&1; true"))
}

#[test]
fn pods_resolve_cluster_names_through_the_nodes_dns_server() {
    let c = cluster();
    let dns_ip = format!("10.43.{}.10", n());
    let gateway = format!("10.42.{}.1", n());

    // kube-dns: the tenth service address, no selector, DNS over UDP and TCP.
    assert_eq!(
        c.jsonpath(
            &["svc", "-n", "kube-system", "kube-dns"],
            "{.spec.clusterIP}"
        ),
        dns_ip
    );
    assert_eq!(
        c.jsonpath(
            &["svc", "-n", "kube-system", "kube-dns"],
            "{.metadata.labels.k8s-app} {.spec.selector} {.spec.ports[*].protocol}"
        ),
        "kube-dns  UDP TCP"
    );
    let slice = format!("kube-dns-{}", c.node_name());
    let published = true_within(ROLLOUT_TIMEOUT, || {
        c.kubectl(&["get", "endpointslice", "-n", "kube-system", &slice, "-o",
            "jsonpath={.endpoints[0].addresses[0]} {.ports[*].port} {.metadata.labels.kubernetes\\.io/service-name}"])
            .stdout
            == format!("{gateway} 53 53 kube-dns")
    });
    assert!(
        published,
        "no kube-dns endpoint for the node: {}\n{}",
        c.kubectl(&["get", "endpointslices", "-n", "kube-system", "-o", "yaml"])
            .stdout,
        krust_e2e::tail(&c.server_stderr(), 40)
    );

    apply(
        &c,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: web, labels: {{app: web}}}}
spec:
  containers: [{{name: main, image: {IMAGE}, command: [sleep, "3600"]}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{name: http, port: 80}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: db-0, labels: {{app: db}}}}
spec:
  hostname: db-0
  subdomain: db
  containers: [{{name: main, image: {IMAGE}, command: [sleep, "3600"]}}]
---
apiVersion: v1
kind: Service
metadata: {{name: db}}
spec:
  clusterIP: None
  selector: {{app: db}}
  ports: [{{name: pg, port: 5432}}]
---
apiVersion: v1
kind: Service
metadata: {{name: alias}}
spec:
  type: ExternalName
  externalName: web.default.svc.cluster.local
---
apiVersion: v1
kind: Pod
metadata: {{name: client}}
spec:
  containers: [{{name: main, image: {IMAGE}, command: [sleep, "3600"]}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: host-dns}}
spec:
  dnsPolicy: Default
  containers: [{{name: main, image: {IMAGE}, command: [sleep, "3600"]}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: host-net}}
spec:
  hostNetwork: true
  dnsPolicy: ClusterFirstWithHostNet
  containers: [{{name: main, image: {IMAGE}, command: [sleep, "3600"]}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: own-dns}}
spec:
  dnsPolicy: None
  dnsConfig:
    nameservers: [192.0.2.53]
    searches: [my.dns.search]
    options: [{{name: ndots, value: "2"}}, {{name: edns0}}]
  containers: [{{name: main, image: {IMAGE}, command: [sleep, "3600"]}}]
"#
        ),
    );
    for pod in ["web", "db-0", "client", "host-dns", "host-net", "own-dns"] {
        wait_running(&c, pod);
    }

    // resolv.conf per dnsPolicy.
    let cluster_first = sh(&c, "client", "cat /etc/resolv.conf");
    assert!(
        cluster_first
            .starts_with("search default.svc.cluster.local svc.cluster.local cluster.local")
            && cluster_first.contains(&format!("\nnameserver {dns_ip}\n"))
            && cluster_first.ends_with("options ndots:5\n"),
        "{cluster_first}"
    );
    // A pod on the host's network asks the cluster DNS too with ClusterFirstWithHostNet.
    assert_eq!(sh(&c, "host-net", "cat /etc/resolv.conf"), cluster_first);
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let host_dns = sh(&c, "host-dns", "cat /etc/resolv.conf");
    for server in krust_dns::nameservers(&host) {
        assert!(
            host_dns.contains(&format!("nameserver {server}\n")),
            "{host_dns}"
        );
    }
    assert_eq!(
        sh(&c, "own-dns", "cat /etc/resolv.conf"),
        "search my.dns.search\nnameserver 192.0.2.53\noptions ndots:2 edns0\n"
    );

    let web_ip = c.jsonpath(&["svc", "web"], "{.spec.clusterIP}");
    let db_ip = c.jsonpath(&["pod", "db-0"], "{.status.podIP}");
    // The headless Service's endpoint (its pod is ready) reaches the DNS records.
    let ready = true_within(ROLLOUT_TIMEOUT, || {
        nslookup(
            &c,
            "client",
            &gateway,
            "-type=a db.default.svc.cluster.local",
        )
        .contains(&db_ip)
    });
    assert!(
        ready,
        "{}",
        nslookup(
            &c,
            "client",
            &gateway,
            "-type=a db.default.svc.cluster.local"
        )
    );

    let svc = nslookup(
        &c,
        "client",
        &gateway,
        "-type=a web.default.svc.cluster.local",
    );
    assert!(svc.contains(&format!("Address: {web_ip}")), "{svc}");
    // Through the pod's own resolv.conf: the kube-dns Service address, which the service
    // proxy leads to the node's server.
    let by_service = sh(
        &c,
        "client",
        "nslookup web.default.svc.cluster.local 2>&1; true",
    );
    assert!(by_service.contains(&dns_ip), "asked kube-dns: {by_service}");
    assert!(
        by_service.contains(&format!("Address: {web_ip}")),
        "{by_service}"
    );
    let host_name = nslookup(
        &c,
        "client",
        &gateway,
        "-type=a db-0.db.default.svc.cluster.local",
    );
    assert!(
        host_name.contains(&format!("Address: {db_ip}")),
        "{host_name}"
    );
    let srv = nslookup(
        &c,
        "client",
        &gateway,
        "-type=srv _pg._tcp.db.default.svc.cluster.local",
    );
    assert!(
        srv.contains("5432 db-0.db.default.svc.cluster.local"),
        "{srv}"
    );
    let ptr = nslookup(&c, "client", &gateway, &web_ip);
    assert!(
        ptr.contains("name = web.default.svc.cluster.local"),
        "{ptr}"
    );
    let alias = nslookup(
        &c,
        "client",
        &gateway,
        "-type=a alias.default.svc.cluster.local",
    );
    assert!(
        alias.contains("canonical name = web.default.svc.cluster.local")
            && alias.contains(&format!("Address: {web_ip}")),
        "{alias}"
    );
    let unknown = nslookup(
        &c,
        "client",
        &gateway,
        "-type=a nope.default.svc.cluster.local",
    );
    assert!(unknown.contains("NXDOMAIN"), "{unknown}");
    // kube-dns comes back at its address when deleted.
    c.ok(&["delete", "svc", "-n", "kube-system", "kube-dns"]);
    let back = true_within(ROLLOUT_TIMEOUT, || {
        c.kubectl(&[
            "get",
            "svc",
            "-n",
            "kube-system",
            "kube-dns",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ])
        .stdout
            == dns_ip
    });
    assert!(back, "kube-dns was not re-created");
    remove_pods(&c);
}

/// One query for `name` of type `qtype` (with EDNS if `edns`) to `server` over UDP.
fn over_udp(server: &str, name: &str, qtype: RecordType, edns: bool) -> Message {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").expect("udp");
    socket
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    socket
        .send_to(&query(name, qtype, edns), (server, 53))
        .expect("send");
    let mut buf = vec![0; 65535];
    let n = socket.recv(&mut buf).expect("an answer over UDP");
    assert!(edns || n <= 512, "{n} bytes over UDP without EDNS");
    Message::from_vec(&buf[..n]).expect("a DNS message")
}

/// The same over TCP (a two-byte length before each message).
fn over_tcp(server: &str, name: &str, qtype: RecordType) -> Message {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect((server, 53)).expect("tcp");
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let bytes = query(name, qtype, false);
    stream
        .write_all(&(bytes.len() as u16).to_be_bytes())
        .expect("write");
    stream.write_all(&bytes).expect("write");
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).expect("length");
    let mut buf = vec![0; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).expect("message");
    Message::from_vec(&buf).expect("a DNS message")
}

fn query(name: &str, qtype: RecordType, edns: bool) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = 7;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).expect("name"), qtype));
    if edns {
        let mut e = Edns::new();
        e.set_max_payload(4096);
        m.set_edns(e);
    }
    m.to_vec().expect("encode")
}

fn addresses(m: &Message) -> Vec<String> {
    m.answers.iter().map(|r| r.data.to_string()).collect()
}

#[test]
fn the_cluster_dns_answers_the_host_over_udp_and_tcp_as_coredns_does() {
    let c = cluster();
    let dns_ip = format!("10.43.{}.10", n());
    // A headless Service with 40 ready endpoints: more A records than 512 bytes hold.
    let endpoints: String = (100..140)
        .map(|i| {
            format!(
                "- addresses: [10.42.{}.{i}]\n  conditions: {{ready: true}}\n",
                n()
            )
        })
        .collect();
    apply(
        &c,
        &format!(
            r#"apiVersion: v1
kind: Service
metadata: {{name: many}}
spec:
  clusterIP: None
  ports: [{{name: http, port: 80}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: many-1
  labels: {{kubernetes.io/service-name: many}}
addressType: IPv4
ports: [{{name: http, port: 80, protocol: TCP}}]
endpoints:
{endpoints}"#
        ),
    );
    let kubernetes = "kubernetes.default.svc.cluster.local.";
    let answered = true_within(ROLLOUT_TIMEOUT, || {
        std::panic::catch_unwind(|| {
            over_udp(
                &dns_ip,
                "many.default.svc.cluster.local.",
                RecordType::A,
                true,
            )
        })
        .is_ok_and(|m| m.answers.len() == 40)
    });
    assert!(
        answered,
        "the kube-dns Service never answered the host with the 40 endpoints: {}",
        krust_e2e::tail(&c.server_stderr(), 40)
    );

    // The same Service over UDP and TCP.
    let api = c.jsonpath(&["svc", "kubernetes"], "{.spec.clusterIP}");
    for m in [
        over_udp(&dns_ip, kubernetes, RecordType::A, false),
        over_tcp(&dns_ip, kubernetes, RecordType::A),
    ] {
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.metadata.authoritative, "{m:?}");
        assert_eq!(addresses(&m), std::slice::from_ref(&api));
    }
    // NODATA: the name exists, not its AAAA (an IPv4 cluster); the zone's SOA says so.
    let nodata = over_udp(&dns_ip, kubernetes, RecordType::AAAA, false);
    assert_eq!(
        (nodata.metadata.response_code, nodata.answers.len()),
        (ResponseCode::NoError, 0)
    );
    assert_eq!(nodata.authorities[0].record_type(), RecordType::SOA);
    // NXDOMAIN for a name that is not there.
    let nx = over_tcp(&dns_ip, "nope.default.svc.cluster.local.", RecordType::A);
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    // A pod record carries its address.
    let pod_name = format!("10-42-{}-7.default.pod.cluster.local.", n());
    assert_eq!(
        addresses(&over_udp(&dns_ip, &pod_name, RecordType::A, false)),
        [format!("10.42.{}.7", n())]
    );
    // Truncation: 40 A records do not fit 512 bytes over UDP; TCP (or EDNS) has them all.
    let cut = over_udp(
        &dns_ip,
        "many.default.svc.cluster.local.",
        RecordType::A,
        false,
    );
    assert!(
        cut.metadata.truncation && cut.answers.len() < 40,
        "{}",
        cut.answers.len()
    );
    let whole = over_tcp(&dns_ip, "many.default.svc.cluster.local.", RecordType::A);
    assert_eq!(
        (whole.metadata.truncation, whole.answers.len()),
        (false, 40)
    );
    c.ok(&["delete", "service", "many"]);
    c.ok(&["delete", "endpointslice", "many-1"]);
}

/// An upstream resolver on `ip`:53 (UDP) answering every A question with 192.0.2.77, on a
/// thread of its own for the rest of the test process.
fn upstream(ip: std::net::Ipv4Addr) {
    use krust_dns::hickory_proto::rr::rdata::A;
    use krust_dns::hickory_proto::rr::{RData, Record};
    let socket = std::net::UdpSocket::bind((ip, 53)).expect("the upstream's port");
    std::thread::spawn(move || {
        let mut buf = vec![0; 4096];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut m = Message::response(q.metadata.id, q.metadata.op_code);
            m.metadata.recursion_available = true;
            m.add_queries(q.queries.iter().cloned());
            if let Some(question) = q.queries.first()
                && question.query_type() == RecordType::A
            {
                let answer = RData::A(A([192, 0, 2, 77].into()));
                m.add_answer(Record::from_rdata(question.name().clone(), 60, answer));
            }
            let _ = socket.send_to(&m.to_vec().expect("encode"), from);
        }
    });
}

#[test]
fn names_outside_the_cluster_go_to_the_resolvers_of_the_nodes_resolv_conf() {
    // The kubelet's --resolv-conf: an upstream of the test's own on a loopback address.
    let ip = std::net::Ipv4Addr::new(127, 0, 77, krust_e2e::test_number() as u8 + 1);
    upstream(ip);
    let dir = tempfile::Builder::new()
        .prefix("krust-resolv-")
        .tempdir()
        .expect("tempdir");
    let resolv_conf = dir.path().join("resolv.conf");
    std::fs::write(
        &resolv_conf,
        format!("nameserver {ip}\nsearch example.test\n"),
    )
    .expect("resolv.conf");
    let c = cluster_with(&["--resolv-conf", resolv_conf.to_str().expect("path")]);
    let dns_ip = format!("10.43.{}.10", n());
    let answered = || {
        std::panic::catch_unwind(|| {
            over_udp(&dns_ip, "outside.example.test.", RecordType::A, false)
        })
        .ok()
    };
    assert!(
        true_within(ROLLOUT_TIMEOUT, || answered().is_some()),
        "the kube-dns Service never answered: {}",
        krust_e2e::tail(&c.server_stderr(), 40)
    );
    let m = answered().expect("an answer");
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(!m.metadata.authoritative, "not the cluster's name: {m:?}");
    assert_eq!(addresses(&m), ["192.0.2.77"]);
    // A pod with dnsPolicy Default gets that resolv.conf.
    apply(
        &c,
        &format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: host-dns}}\nspec:\n  dnsPolicy: Default\n  \
             containers: [{{name: main, image: {IMAGE}, command: [sleep, \"3600\"]}}]\n"
        ),
    );
    wait_running(&c, "host-dns");
    assert_eq!(
        sh(&c, "host-dns", "cat /etc/resolv.conf"),
        format!("search example.test\nnameserver {ip}\n")
    );
}
