//! The DNS part of `krust-bench network`: queries per second and latency of a DNS server, as
//! dnsperf measures them (UDP, a fixed number of queries outstanding on each of several
//! sockets, a new query sent as each answer arrives), and the reference it is compared with
//! in the same run: a server on the same host that sends every query back as its own answer
//! (the header's QR bit set), which costs the network path and nothing else.
//!
//! The questions are a mix a cluster's clients ask (`questions`): Services' A records (and
//! the AAAA a dual-stack resolver asks beside them), headless Services, SRV records of named
//! ports, names made by a pod's search path that do not exist (NXDOMAIN), and pod records.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use krust_dns::hickory_proto::op::{Edns, Message, Query, ResponseCode};
use krust_dns::hickory_proto::rr::{Name, RecordType};

/// What a question's answer must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// NOERROR with this many records in the answer section (0: NODATA).
    Records(usize),
    /// NXDOMAIN.
    NxDomain,
}

/// One question of the mix, its wire form (id 0) and what it must be answered.
#[derive(Clone, Debug)]
pub struct Question {
    pub name: String,
    pub qtype: RecordType,
    pub expect: Expect,
    pub wire: Vec<u8>,
}

impl Question {
    fn new(name: String, qtype: RecordType, edns: bool, expect: Expect) -> Result<Question> {
        let mut m = Message::query();
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(&name)?, qtype));
        if edns {
            let mut e = Edns::new();
            e.set_max_payload(1232);
            m.set_edns(e);
        }
        Ok(Question {
            wire: m.to_vec()?,
            name,
            qtype,
            expect,
        })
    }
}

/// The mix, 20 questions per round, over `services` ClusterIP Services `net-<i>` (one
/// named port `http`), `headless` headless Services `dns-h-<j>` of `per_headless` ready
/// endpoints each, and pods at `pods`, all in `default`. A tenth of the questions carry an
/// EDNS0 OPT record, a tenth are in upper case.
pub fn questions(
    services: usize,
    headless: usize,
    per_headless: usize,
    pods: &[Ipv4Addr],
    rounds: usize,
) -> Result<Vec<Question>> {
    let mut out = Vec::new();
    // A fixed generator, so that two runs ask the same questions.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n.max(1) as u64) as usize
    };
    const ZONE: &str = "default.svc.cluster.local.";
    for round in 0..rounds {
        let svc = next(services);
        let other = next(services);
        let h = next(headless);
        let pod = pods[next(pods.len())].to_string().replace('.', "-");
        let kinds: [(String, RecordType, Expect); 20] = [
            (
                format!("net-{svc}.{ZONE}"),
                RecordType::A,
                Expect::Records(1),
            ),
            (
                format!("net-{svc}.{ZONE}"),
                RecordType::AAAA,
                Expect::Records(0),
            ),
            (
                format!("net-{other}.{ZONE}"),
                RecordType::A,
                Expect::Records(1),
            ),
            (
                format!("net-{other}.{ZONE}"),
                RecordType::AAAA,
                Expect::Records(0),
            ),
            (
                format!("NET-{svc}.Default.SVC.cluster.local."),
                RecordType::A,
                Expect::Records(1),
            ),
            (
                format!("net-{svc}.default.svc.cluster.local.{ZONE}"),
                RecordType::A,
                Expect::NxDomain,
            ),
            (
                format!("net-{svc}.default.svc.cluster.local.svc.cluster.local."),
                RecordType::A,
                Expect::NxDomain,
            ),
            (
                format!("net-{other}.default.{ZONE}"),
                RecordType::A,
                Expect::NxDomain,
            ),
            (
                format!("missing-{svc}.{ZONE}"),
                RecordType::A,
                Expect::NxDomain,
            ),
            (
                format!("dns-h-{h}.{ZONE}"),
                RecordType::A,
                Expect::Records(per_headless),
            ),
            (
                format!("dns-h-{h}.{ZONE}"),
                RecordType::AAAA,
                Expect::Records(0),
            ),
            (
                format!("h-0.dns-h-{h}.{ZONE}"),
                RecordType::A,
                Expect::Records(1),
            ),
            (
                format!("_http._tcp.net-{svc}.{ZONE}"),
                RecordType::SRV,
                Expect::Records(1),
            ),
            (
                format!("_http._tcp.dns-h-{h}.{ZONE}"),
                RecordType::SRV,
                Expect::Records(per_headless),
            ),
            (
                format!("{pod}.default.pod.cluster.local."),
                RecordType::A,
                Expect::Records(1),
            ),
            (
                format!("net-{svc}.{ZONE}"),
                RecordType::A,
                Expect::Records(1),
            ),
            (
                format!("net-{other}.{ZONE}"),
                RecordType::A,
                Expect::Records(1),
            ),
            (
                format!("dns-h-{h}.{ZONE}"),
                RecordType::A,
                Expect::Records(per_headless),
            ),
            (
                "kube-dns.kube-system.svc.cluster.local.".to_string(),
                RecordType::A,
                Expect::Records(1),
            ),
            (
                "kubernetes.default.svc.cluster.local.".to_string(),
                RecordType::A,
                Expect::Records(1),
            ),
        ];
        for (i, (name, qtype, expect)) in kinds.into_iter().enumerate() {
            let edns = (round + i) % 10 == 3;
            out.push(Question::new(name, qtype, edns, expect)?);
        }
    }
    Ok(out)
}

/// Asks each question once and checks its answer (so that the load measures answers, not
/// errors).
pub fn check(server: SocketAddr, questions: &[Question]) -> Result<()> {
    let socket = UdpSocket::bind(local_for(server))?;
    socket.connect(server)?;
    socket.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut buf = vec![0u8; 65535];
    for (i, q) in questions.iter().enumerate() {
        let id = i as u16;
        let mut wire = q.wire.clone();
        wire[..2].copy_from_slice(&id.to_be_bytes());
        socket.send(&wire)?;
        let answer = loop {
            let n = socket.recv(&mut buf)?;
            let m = Message::from_vec(&buf[..n])?;
            if m.metadata.id == id {
                break m;
            }
        };
        let got = match answer.metadata.response_code {
            ResponseCode::NXDomain => Expect::NxDomain,
            ResponseCode::NoError => Expect::Records(answer.answers.len()),
            other => bail!("{} {}: {other}", q.name, q.qtype),
        };
        if got != q.expect {
            bail!("{} {}: {got:?}, not {:?}", q.name, q.qtype, q.expect);
        }
    }
    Ok(())
}

/// How the load is offered.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// Client sockets, each on a thread of its own.
    pub sockets: usize,
    /// Queries outstanding on each socket.
    pub window: usize,
    /// How long the load runs (after a tenth of it as warm-up).
    pub duration: Duration,
}

/// What a load run measured.
#[derive(Clone, Debug)]
pub struct Measured {
    /// Answers received per second.
    pub qps: f64,
    /// The latency of every answer (query sent → answer received).
    pub latencies: Vec<Duration>,
    /// Queries not answered within [`LOST_AFTER`].
    pub lost: u64,
}

/// A query unanswered for this long counts as lost (and another is sent in its place).
pub const LOST_AFTER: Duration = Duration::from_millis(500);

/// Offers `load` to `server` with `questions` asked in turn.
pub fn run(server: SocketAddr, questions: &[Question], load: Load) -> Result<Measured> {
    let warmup = load.duration / 10;
    on_sockets(load.sockets, load.duration, |s| {
        one_socket(
            server,
            questions,
            s * 7919,
            load.window,
            warmup,
            load.duration,
        )
    })
}

/// Runs `socket(i)` for each of `sockets` on a thread of its own and adds up what each
/// answered (a count, the latencies, the queries lost) over `duration`.
fn on_sockets(
    sockets: usize,
    duration: Duration,
    socket: impl Fn(usize) -> Result<(u64, Vec<Duration>, u64)> + Sync,
) -> Result<Measured> {
    let socket = &socket;
    let results: Vec<Result<(u64, Vec<Duration>, u64)>> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..sockets)
            .map(|s| scope.spawn(move || socket(s)))
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|_| bail!("a load thread panicked")))
            .collect()
    });
    let mut measured = Measured {
        qps: 0.0,
        latencies: Vec::new(),
        lost: 0,
    };
    for r in results {
        let (answered, latencies, lost) = r?;
        measured.qps += answered as f64 / duration.as_secs_f64();
        measured.latencies.extend(latencies);
        measured.lost += lost;
    }
    Ok(measured)
}

/// One socket's share: `window` queries outstanding, each answer matched by id.
fn one_socket(
    server: SocketAddr,
    questions: &[Question],
    start: usize,
    window: usize,
    warmup: Duration,
    duration: Duration,
) -> Result<(u64, Vec<Duration>, u64)> {
    let socket = UdpSocket::bind(local_for(server))?;
    socket.connect(server)?;
    socket.set_read_timeout(Some(Duration::from_millis(50)))?;
    let mut sent_at: Vec<Option<Instant>> = vec![None; 1 << 16];
    let mut next_id = 0u16;
    let mut next_question = start;
    let mut outstanding = 0usize;
    let mut send = |sent_at: &mut Vec<Option<Instant>>, outstanding: &mut usize| {
        let q = &questions[next_question % questions.len()];
        next_question += 1;
        let mut wire = q.wire.clone();
        wire[..2].copy_from_slice(&next_id.to_be_bytes());
        if socket.send(&wire).is_ok() {
            sent_at[usize::from(next_id)] = Some(Instant::now());
            *outstanding += 1;
        }
        next_id = next_id.wrapping_add(1);
    };
    let mut buf = vec![0u8; 65535];
    let began = Instant::now();
    let measure_from = began + warmup;
    let end = measure_from + duration;
    let (mut answered, mut lost) = (0u64, 0u64);
    let mut latencies = Vec::with_capacity(1 << 20);
    let mut last_sweep = began;
    loop {
        while outstanding < window {
            send(&mut sent_at, &mut outstanding);
        }
        let now = Instant::now();
        if now >= end {
            break;
        }
        if now - last_sweep > LOST_AFTER {
            last_sweep = now;
            for slot in sent_at.iter_mut() {
                if slot.is_some_and(|t| now - t > LOST_AFTER) {
                    *slot = None;
                    outstanding -= 1;
                    if now > measure_from {
                        lost += 1;
                    }
                }
            }
        }
        let n = match socket.recv(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if n < 12 {
            continue;
        }
        let id = u16::from_be_bytes([buf[0], buf[1]]);
        let Some(sent) = sent_at[usize::from(id)].take() else {
            continue;
        };
        outstanding -= 1;
        let now = Instant::now();
        if sent >= measure_from {
            answered += 1;
            latencies.push(now - sent);
        }
    }
    Ok((answered, latencies, lost))
}

/// Offers `questions` to `server` at a fixed `rate` (queries per second in all, spread over
/// `sockets`), as an open-loop generator does: queries are sent on their schedule whatever
/// the answers, so that a slow answer delays no later query and the latency measured is the
/// server's at that rate, not a queue the load itself keeps full. One thread does it all
/// (every socket non-blocking; in steps of [`PACE_STEP`], it sends what has come due and
/// takes every answer waiting), so the generator's own threads do not crowd the machine's
/// cores; an answer's latency includes up to one step. A query lost counts among the
/// latencies as [`LOST_AFTER`].
pub fn paced(
    server: SocketAddr,
    questions: &[Question],
    sockets: usize,
    rate: f64,
    duration: Duration,
) -> Result<Measured> {
    on_sockets(1, duration, |_| {
        paced_sockets(server, questions, sockets, rate, duration / 10, duration)
    })
}

/// How often a paced load sends what has come due and reads the answers.
pub const PACE_STEP: Duration = Duration::from_micros(100);

/// The paced load of [`paced`] on one thread: query `k` goes to socket `k % sockets` with id
/// `k / sockets`; each socket keeps the send time of its outstanding ids (nanoseconds since
/// the start, plus one; 0: none).
fn paced_sockets(
    server: SocketAddr,
    questions: &[Question],
    sockets: usize,
    rate: f64,
    warmup: Duration,
    duration: Duration,
) -> Result<(u64, Vec<Duration>, u64)> {
    let socks = (0..sockets.max(1))
        .map(|_| {
            let s = UdpSocket::bind(local_for(server))?;
            s.connect(server)?;
            s.set_nonblocking(true)?;
            Ok(s)
        })
        .collect::<Result<Vec<UdpSocket>>>()?;
    let mut sent_at = vec![vec![0u64; 1 << 16]; socks.len()];
    let (measure_from, end) = (warmup, warmup + duration);
    let measured = |sent: u64| {
        let sent = Duration::from_nanos(sent - 1);
        sent >= measure_from && sent < end
    };
    let began = Instant::now();
    let since = |t: Instant| (t - began).as_nanos() as u64 + 1;
    let mut buf = vec![0u8; 65535];
    let mut latencies = Vec::with_capacity(1 << 20);
    let (mut sent_n, mut lost) = (0u64, 0u64);
    loop {
        let elapsed = began.elapsed();
        if elapsed < end {
            let due = (elapsed.as_secs_f64() * rate) as u64;
            while sent_n < due {
                let socket = sent_n as usize % socks.len();
                let id = (sent_n / socks.len() as u64) as u16;
                let q = &questions[sent_n as usize % questions.len()];
                let mut wire = q.wire.clone();
                wire[..2].copy_from_slice(&id.to_be_bytes());
                let slot = &mut sent_at[socket][usize::from(id)];
                if *slot != 0 && measured(*slot) {
                    lost += 1;
                }
                *slot = since(Instant::now());
                let _ = socks[socket].send(&wire);
                sent_n += 1;
            }
        }
        for (socket, s) in socks.iter().enumerate() {
            loop {
                let n = match s.recv(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e.into()),
                };
                let now = since(Instant::now());
                if n < 12 {
                    continue;
                }
                let id = usize::from(u16::from_be_bytes([buf[0], buf[1]]));
                let sent = std::mem::take(&mut sent_at[socket][id]);
                if sent != 0 && measured(sent) {
                    latencies.push(Duration::from_nanos(now - sent));
                }
            }
        }
        // Answers still on their way get the time a lost query is given.
        if elapsed >= end + LOST_AFTER {
            break;
        }
        std::thread::sleep(PACE_STEP);
    }
    let answered = latencies.len() as u64;
    lost += sent_at
        .iter()
        .flatten()
        .filter(|s| **s != 0 && measured(**s))
        .count() as u64;
    latencies.extend(std::iter::repeat_n(LOST_AFTER, lost as usize));
    Ok((answered, latencies, lost))
}

fn local_for(server: SocketAddr) -> SocketAddr {
    match server.ip() {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    }
}

/// The reference server: every query sent back as its own answer, from `threads` threads,
/// each with its own socket on one address of `ip` (`SO_REUSEPORT`, as the DNS server's
/// sockets, so the kernel spreads clients over them alike). Stops when dropped.
pub struct Echo {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Echo {
    pub fn start(ip: IpAddr, threads: usize) -> Result<Echo> {
        let first = krust_dns::reuse_port_udp((ip, 0).into())?;
        let addr = first.local_addr()?;
        let mut sockets = vec![first];
        for _ in 1..threads {
            sockets.push(krust_dns::reuse_port_udp(addr)?);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let threads = sockets
            .into_iter()
            .map(|socket| {
                socket.set_nonblocking(false)?;
                socket.set_read_timeout(Some(Duration::from_millis(100)))?;
                let stop = stop.clone();
                Ok(std::thread::spawn(move || {
                    let mut buf = vec![0u8; 65535];
                    while !stop.load(Ordering::Relaxed) {
                        let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                            continue;
                        };
                        if n >= 12 {
                            buf[2] |= 0x80;
                            let _ = socket.send_to(&buf[..n], peer);
                        }
                    }
                }))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Echo {
            addr,
            stop,
            threads,
        })
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_echo_server_answers_every_query_of_a_load() {
        let echo = Echo::start(Ipv4Addr::LOCALHOST.into(), 1).unwrap();
        let qs = questions(10, 2, 3, &[Ipv4Addr::new(10, 42, 0, 5)], 2).unwrap();
        assert_eq!(qs.len(), 40);
        let load = Load {
            sockets: 2,
            window: 4,
            duration: Duration::from_millis(200),
        };
        let m = run(echo.addr, &qs, load).unwrap();
        assert!(m.qps > 0.0 && !m.latencies.is_empty());
        assert_eq!(m.lost, 0);
    }

    #[test]
    fn a_paced_load_offers_its_rate_and_the_echo_server_answers_it_all() {
        let echo = Echo::start(Ipv4Addr::LOCALHOST.into(), 1).unwrap();
        let qs = questions(10, 2, 3, &[Ipv4Addr::new(10, 42, 0, 5)], 2).unwrap();
        let m = paced(echo.addr, &qs, 2, 2000.0, Duration::from_millis(500)).unwrap();
        assert_eq!(m.lost, 0);
        assert!((1600.0..2400.0).contains(&m.qps), "{} queries/s", m.qps);
        assert_eq!(m.latencies.len() as f64, m.qps * 0.5);
    }

    /// The records of the network benchmark's cluster, without the cluster: `services`
    /// ClusterIP Services, a tenth as many headless ones of two endpoints, kube-dns and
    /// kubernetes.
    fn bench_records(services: usize) -> krust_dns::Records {
        use k8s_openapi::api::core::v1::Service;
        use k8s_openapi::api::discovery::v1::EndpointSlice;
        use krust_dns::{Records, ServiceRecord, SliceRecord};
        use serde_json::json;
        let mut svcs = Vec::new();
        let mut slices = Vec::new();
        let mut add = |ns: &str, name: &str, ip: &str, eps: serde_json::Value| {
            let svc: Service = serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": ns},
                "spec": {"clusterIP": ip, "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
            }))
            .unwrap();
            svcs.push(ServiceRecord::from_service(&svc).unwrap());
            let slice: EndpointSlice = serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": ns,
                    "labels": {"kubernetes.io/service-name": name}},
                "addressType": "IPv4",
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                "endpoints": eps,
            }))
            .unwrap();
            slices.push(Arc::new(SliceRecord::from_slice(&slice).unwrap()));
        };
        for i in 0..services {
            let ip = format!("10.43.{}.{}", 64 + i / 250, 1 + i % 250);
            add(
                "default",
                &format!("net-{i}"),
                &ip,
                json!([{"addresses": ["10.42.20.5"]}]),
            );
        }
        for j in 0..services / 10 {
            add(
                "default",
                &format!("dns-h-{j}"),
                "None",
                json!([
                {"addresses": ["10.42.20.5"], "hostname": "h-0"},
                {"addresses": ["10.42.20.6"], "hostname": "h-1"}]),
            );
        }
        add(
            "default",
            "kubernetes",
            "10.43.68.1",
            json!([{"addresses": ["127.0.0.1"]}]),
        );
        add(
            "kube-system",
            "kube-dns",
            "10.43.68.10",
            json!([{"addresses": ["127.0.0.1"]}]),
        );
        let mut r = Records::new(
            ["default", "kube-system"].map(String::from),
            svcs.iter(),
            slices.iter(),
        );
        r.synced = true;
        r
    }

    /// The DNS server alone, in this process, under the benchmark's mix and load (a tool
    /// to profile it: `cargo test --release -p krust-bench --lib -- --ignored --nocapture
    /// dns_server_alone`).
    #[test]
    #[ignore = "a measurement, in release"]
    fn the_dns_server_alone_answers_the_mix_at_1000_services() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (tx, rx) = tokio::sync::watch::channel(Arc::new(bench_records(1000)));
        // DNS_CHURN=1: a new snapshot every 20 ms, as a cluster whose endpoints keep
        // changing gives (the answers kept are dropped with each).
        let churn = std::env::var("DNS_CHURN").is_ok_and(|v| v == "1");
        let stop = Arc::new(AtomicBool::new(false));
        let churner = churn.then(|| {
            let (a, b) = (Arc::new(bench_records(1000)), Arc::new(bench_records(1000)));
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut turn = false;
                while !stop.load(Ordering::Relaxed) {
                    tx.send_replace(if turn { a.clone() } else { b.clone() });
                    turn = !turn;
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        });
        let handler = Arc::new(krust_dns::Handler::new(
            "cluster.local",
            rx,
            krust_dns::Upstreams::default(),
        ));
        let server = rt
            .block_on(krust_dns::Server::start(
                "127.0.0.1:0".parse().unwrap(),
                handler,
            ))
            .unwrap();
        let pods = [Ipv4Addr::new(10, 42, 20, 5), Ipv4Addr::new(10, 42, 20, 6)];
        let qs = questions(1000, 100, 2, &pods, 500).unwrap();
        check(server.addr, &qs).unwrap();
        let secs: u64 = std::env::var("DNS_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2);
        let load = Load {
            sockets: 4,
            window: 8,
            duration: Duration::from_secs(secs),
        };
        let rate = crate::spec::target("network.dns-qps").value;
        let echo = Echo::start(Ipv4Addr::LOCALHOST.into(), 2).unwrap();
        let r = run(echo.addr, &qs, load).unwrap();
        let rp = paced(echo.addr, &qs, load.sockets, rate, load.duration).unwrap();
        drop(echo);
        let m = run(server.addr, &qs, load).unwrap();
        let mp = paced(server.addr, &qs, load.sockets, rate, load.duration).unwrap();
        stop.store(true, Ordering::Relaxed);
        if let Some(t) = churner {
            t.join().unwrap();
        }
        for (what, m) in [
            ("echo", r),
            ("krust", m),
            ("echo paced", rp),
            ("krust paced", mp),
        ] {
            let s = crate::pods::stats::Summary::of(&m.latencies);
            println!(
                "{what}: {:.0} queries/s, p50 {:?}, p99 {:?}, lost {}",
                m.qps, s.p50, s.p99, m.lost
            );
        }
    }
}
