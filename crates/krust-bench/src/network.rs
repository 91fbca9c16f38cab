//! `krust-bench network`: the service proxy on the real node (issue 11's "How it is shown"),
//! on a `krust server` process whose node is this host (as `krust-bench pods` starts one).
//!
//! 1. Network programming latency, as Kubernetes' SLI defines it: from an EndpointSlice
//!    change written to the API to the first new connection to the Service's ClusterIP that
//!    reaches the new endpoint, with `--services` selector-less Services (each with its own
//!    hand-written EndpointSlice) programmed on the node. The changed Service's slice is
//!    flipped between two pods; a client on the host opens a connection every millisecond
//!    and asks which pod answers.
//! 2. Throughput of one connection through the ClusterIP against one to the pod's own
//!    address, in the same run, alternating: `GET /big` (`--mib` MiB) from busybox httpd in
//!    a pod, read on the host.
//!
//! 3. Queries per second and latency of the node's built-in DNS server (`dns`), among the
//!    same Services plus a tenth as many headless ones, against a server that sends every
//!    query back as its answer on the same address, in the same run, alternating.
//!
//! Nothing leaves the host: the pods are on the node's bridge, the Services in a range of
//! the benchmark's own (`10.43.64.0/22`), routed by the node to its bridge.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod dns;

use crate::pods::IMAGE;
use crate::pods::server::Server;
use crate::pods::stats::{Summary, ms};
use crate::reference::{self, Speed};
use crate::spec::Verdicts;

const SERVICE_CIDR: &str = "10.43.64.0/22";

/// Options of `krust-bench network`.
#[derive(Clone, Debug, clap::Args)]
pub struct NetworkArgs {
    /// The `krust` binary (`cargo build --release -p krust`); default: `krust` beside this
    /// program.
    #[arg(long)]
    pub krust: Option<PathBuf>,
    /// Services (each with an EndpointSlice) programmed on the node.
    #[arg(long, default_value_t = 1000)]
    pub services: usize,
    /// Endpoint changes timed.
    #[arg(long, default_value_t = 20)]
    pub changes: usize,
    /// Size of the file read in each throughput run, MiB.
    #[arg(long, default_value_t = 256)]
    pub mib: usize,
    /// Throughput runs of each path.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Bound of each phase, seconds.
    #[arg(long, default_value_t = 120)]
    pub max_seconds: u64,
}

pub async fn run(args: NetworkArgs) -> Result<Verdicts> {
    let krust = crate::pods::krust_binary_at(args.krust.as_ref())?;
    let dir = tempfile::Builder::new().prefix("krt-bench-").tempdir()?;
    let archive = krust_image::testing::busybox_archive(dir.path(), IMAGE);
    println!(
        "krust {}; {} Services in {SERVICE_CIDR}",
        krust.display(),
        args.services
    );
    let speed_before = reference::rate_now().await;
    let server = Server::start_with(
        &krust,
        &dir.path().join("server"),
        &["--service-cidr", SERVICE_CIDR],
    )?;
    let bound = Duration::from_secs(args.max_seconds);
    let mut verdicts = Verdicts::default();
    let result = on_server(&server, &archive, &args, bound, &mut verdicts).await;
    if result.is_err() {
        eprintln!("--- krust server log (tail) ---\n{}", server.log_tail());
    }
    drop(server);
    result?;
    let speed = Speed {
        before: speed_before,
        after: reference::rate_now().await,
    };
    println!("\n{}", speed.line());
    Ok(verdicts)
}

async fn on_server(
    server: &Server,
    archive: &std::path::Path,
    args: &NetworkArgs,
    bound: Duration,
    verdicts: &mut Verdicts,
) -> Result<()> {
    let client = server.client().await?;
    server.load_image(archive)?;
    crate::pods::node_ready(&client, &server.node, bound).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut ips = BTreeMap::new();
    for name in ["net-a", "net-b"] {
        let script = format!(
            "mkdir -p /www && echo {name} > /www/index.html && \
             dd if=/dev/zero of=/www/big bs=1048576 count={} 2>/dev/null && \
             exec httpd -f -p 8080 -h /www",
            args.mib
        );
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"krt-bench": "network"}},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                "name": "web", "image": IMAGE, "command": ["sh", "-c", script]}]},
        }))?;
        pods.create(&PostParams::default(), &pod).await?;
    }
    let deadline = Instant::now() + bound;
    for name in ["net-a", "net-b"] {
        let ip = loop {
            let pod = pods.get(name).await?;
            let status = pod.status.unwrap_or_default();
            if let (Some("Running"), Some(ip)) = (status.phase.as_deref(), status.pod_ip) {
                break ip;
            }
            if Instant::now() > deadline {
                bail!("pod {name} not Running after {bound:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        // httpd listens once the file is written.
        while get(&ip, 8080, "/index.html").await.is_err() {
            if Instant::now() > deadline {
                bail!("pod {name} does not serve after {bound:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ips.insert(name, ip);
    }
    let result = measure(&client, &server.node, &ips, args, bound, verdicts).await;
    let _ = pods
        .delete_collection(
            &DeleteParams::default().grace_period(1),
            &kube::api::ListParams::default().labels("krt-bench=network"),
        )
        .await;
    result
}

fn service(i: usize) -> Result<Service> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": format!("net-{i}")},
        "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
    }))?)
}

fn slice(i: usize, ip: &str) -> Result<EndpointSlice> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": format!("net-{i}"),
            "labels": {"kubernetes.io/service-name": format!("net-{i}")}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [{"addresses": [ip], "conditions": {"ready": true}}],
    }))?)
}

async fn measure(
    client: &kube::Client,
    node: &str,
    ips: &BTreeMap<&str, String>,
    args: &NetworkArgs,
    bound: Duration,
    verdicts: &mut Verdicts,
) -> Result<()> {
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let a = ips["net-a"].clone();
    let started = Instant::now();
    let created: Vec<Service> = futures::stream::iter(0..args.services)
        .map(|i| {
            let (services, slices, a) = (services.clone(), slices.clone(), a.clone());
            async move {
                slices
                    .create(&PostParams::default(), &slice(i, &a)?)
                    .await?;
                Ok::<_, anyhow::Error>(
                    services
                        .create(&PostParams::default(), &service(i)?)
                        .await?,
                )
            }
        })
        .buffer_unordered(16)
        .try_collect()
        .await?;
    let ip_of = |name: &str| -> Option<String> {
        created
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(name))
            .and_then(|s| s.spec.as_ref()?.cluster_ip.clone())
    };
    let last = ip_of(&format!("net-{}", args.services - 1)).context("no cluster IP")?;
    let deadline = Instant::now() + bound;
    while !get(&last, 80, "/index.html")
        .await
        .is_ok_and(|b| b.trim() == "net-a")
    {
        if Instant::now() > deadline {
            bail!("Service {last} never answered");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "\n{} Services and EndpointSlices created and programmed in {:.1} s",
        args.services,
        started.elapsed().as_secs_f64()
    );

    // (1) Programming latency of one Service's endpoint change.
    let flipped = ip_of("net-0").context("no cluster IP")?;
    let mut latencies = Vec::new();
    for round in 0..args.changes {
        let (to, name) = match round % 2 {
            0 => (&ips["net-b"], "net-b"),
            _ => (&ips["net-a"], "net-a"),
        };
        let t0 = Instant::now();
        slices
            .replace("net-0", &PostParams::default(), &{
                let mut s = slice(0, to)?;
                s.metadata.resource_version = slices.get("net-0").await?.metadata.resource_version;
                s
            })
            .await?;
        loop {
            if get(&flipped, 80, "/index.html")
                .await
                .is_ok_and(|b| b.trim() == name)
            {
                break;
            }
            if t0.elapsed() > bound {
                bail!("the change to {name} was never followed");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        latencies.push(t0.elapsed());
    }
    let s = Summary::of(&latencies);
    println!(
        "\n(1) endpoint change → traffic follows, among {} Services",
        args.services
    );
    println!("  {}", s.line());
    verdicts.check(
        "network.programming-p99",
        "  programming latency p99",
        s.p99.as_secs_f64(),
        args.services >= 1000,
        &format!(" — {}", ms(s.p99)),
    );

    // (2) Throughput: the ClusterIP against the pod's own address, alternating.
    let now_at = if args.changes % 2 == 1 {
        &ips["net-b"]
    } else {
        &ips["net-a"]
    };
    let (mut direct, mut service) = (Vec::new(), Vec::new());
    for _ in 0..args.rounds {
        direct.push(throughput(now_at, 8080, args.mib).await?);
        service.push(throughput(&flipped, 80, args.mib).await?);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (d, sv) = (median(&mut direct), median(&mut service));
    println!(
        "\n(2) one connection, GET of {} MiB, median of {}",
        args.mib, args.rounds
    );
    println!("  pod IP {now_at}:8080 directly: {d:.0} MiB/s");
    println!("  ClusterIP {flipped}:80:        {sv:.0} MiB/s");
    verdicts.check(
        "network.clusterip-vs-direct",
        "  ClusterIP ÷ direct",
        sv / d,
        true,
        &format!(" — {:.2}", sv / d),
    );

    // (3) The node's DNS server.
    dns_phase(client, node, ips, args, bound, verdicts).await?;

    for i in 0..args.services {
        let _ = services
            .delete(&format!("net-{i}"), &DeleteParams::default())
            .await;
        let _ = slices
            .delete(&format!("net-{i}"), &DeleteParams::default())
            .await;
    }
    Ok(())
}

/// The body of `GET path` at `host:port` (a new connection; 1 s bound).
async fn get(host: &str, port: u16, path: &str) -> Result<String> {
    let body = tokio::time::timeout(Duration::from_secs(1), async {
        let mut conn = tokio::net::TcpStream::connect((host, port)).await?;
        conn.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
            .await?;
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    })
    .await??;
    let text = String::from_utf8_lossy(&body);
    Ok(text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string())
}

/// MiB/s of one `GET /big` of `mib` MiB from `host:port`.
async fn throughput(host: &str, port: u16, mib: usize) -> Result<f64> {
    let started = Instant::now();
    let mut conn = tokio::net::TcpStream::connect((host, port)).await?;
    conn.write_all(b"GET /big HTTP/1.0\r\n\r\n").await?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0usize;
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        total += n;
    }
    if total < mib << 20 {
        bail!("{host}:{port} sent {total} bytes, not {mib} MiB");
    }
    Ok(total as f64 / (1 << 20) as f64 / started.elapsed().as_secs_f64())
}

/// Headless Services of the DNS phase: one per ten Services.
fn headless_count(args: &NetworkArgs) -> usize {
    (args.services / 10).max(1)
}

/// The headless Service `dns-h-<j>` and its slice: the two pods, named `h-0` and `h-1`.
fn headless(j: usize, ips: &BTreeMap<&str, String>) -> Result<(Service, EndpointSlice)> {
    let name = format!("dns-h-{j}");
    let service = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"clusterIP": "None", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
    }))?;
    let slice = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [
            {"addresses": [ips["net-a"]], "hostname": "h-0", "conditions": {"ready": true}},
            {"addresses": [ips["net-b"]], "hostname": "h-1", "conditions": {"ready": true}},
        ],
    }))?;
    Ok((service, slice))
}

/// Rounds of each DNS load, alternating with the reference.
const DNS_ROUNDS: usize = 3;
/// The DNS load: several sockets, several queries outstanding on each.
const DNS_LOAD: dns::Load = dns::Load {
    sockets: 4,
    window: 8,
    duration: Duration::from_secs(2),
};

/// (3): the node's DNS server (its address from the node's `kube-dns` EndpointSlice) and the
/// echo reference on the same address, under the same load.
async fn dns_phase(
    client: &kube::Client,
    node: &str,
    ips: &BTreeMap<&str, String>,
    args: &NetworkArgs,
    bound: Duration,
    verdicts: &mut Verdicts,
) -> Result<()> {
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let headless_n = headless_count(args);
    futures::stream::iter(0..headless_n)
        .map(|j| {
            let (services, slices) = (services.clone(), slices.clone());
            async move {
                let (svc, slice) = headless(j, ips)?;
                slices.create(&PostParams::default(), &slice).await?;
                services.create(&PostParams::default(), &svc).await?;
                Ok::<_, anyhow::Error>(())
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await?;
    let deadline = Instant::now() + bound;
    let ip = loop {
        if let Some(ip) = krust_dns::kube_dns::published(client, node).await? {
            break ip;
        }
        if Instant::now() > deadline {
            bail!("node {node} never published its DNS server");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let server = std::net::SocketAddr::new(ip, 53);
    let pods: Vec<std::net::Ipv4Addr> = ips.values().filter_map(|ip| ip.parse().ok()).collect();
    let questions = dns::questions(args.services, headless_n, 2, &pods, 500)?;
    // Every answer right, once the server has seen every Service.
    loop {
        let qs = questions.clone();
        let checked = tokio::task::spawn_blocking(move || dns::check(server, &qs)).await?;
        match checked {
            Ok(()) => break,
            Err(e) if Instant::now() > deadline => {
                return Err(e.context(format!("the DNS server at {server}")));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let echo = dns::Echo::start(ip, 2)?;
    let (mut krust, mut reference) = (Vec::new(), Vec::new());
    for _ in 0..DNS_ROUNDS {
        for (target, out) in [(echo.addr, &mut reference), (server, &mut krust)] {
            let qs = questions.clone();
            out.push(tokio::task::spawn_blocking(move || dns::run(target, &qs, DNS_LOAD)).await??);
        }
    }
    // The latency at the promised rate, offered on a schedule (saturation's latency is the
    // queue the load keeps full).
    let rate = crate::spec::target("network.dns-qps").value;
    let (mut krust_paced, mut reference_paced) = (Vec::new(), Vec::new());
    for _ in 0..DNS_ROUNDS {
        for (target, out) in [
            (echo.addr, &mut reference_paced),
            (server, &mut krust_paced),
        ] {
            let qs = questions.clone();
            out.push(
                tokio::task::spawn_blocking(move || {
                    dns::paced(target, &qs, DNS_LOAD.sockets, rate, DNS_LOAD.duration)
                })
                .await??,
            );
        }
    }
    drop(echo);
    let summarize = |runs: &[dns::Measured]| {
        let mut qps: Vec<f64> = runs.iter().map(|m| m.qps).collect();
        qps.sort_by(f64::total_cmp);
        let latencies: Vec<Duration> = runs.iter().flat_map(|m| m.latencies.clone()).collect();
        let lost: u64 = runs.iter().map(|m| m.lost).sum();
        (qps[qps.len() / 2], Summary::of(&latencies), lost)
    };
    let (k_qps, k_lat, k_lost) = summarize(&krust);
    let (r_qps, r_lat, r_lost) = summarize(&reference);
    let us = |d: Duration| format!("{:.0} µs", d.as_secs_f64() * 1e6);
    println!(
        "\n(3) DNS over UDP, {} sockets × {} queries outstanding, {} s × {DNS_ROUNDS} rounds, \
         {} Services + {headless_n} headless; medians of queries/s",
        DNS_LOAD.sockets,
        DNS_LOAD.window,
        DNS_LOAD.duration.as_secs(),
        args.services
    );
    println!(
        "  krust DNS {server}: {k_qps:.0} queries/s, p50 {}, p99 {}, lost {k_lost}",
        us(k_lat.p50),
        us(k_lat.p99)
    );
    println!(
        "  echo reference {}:  {r_qps:.0} queries/s, p50 {}, p99 {}, lost {r_lost}",
        ip,
        us(r_lat.p50),
        us(r_lat.p99)
    );
    println!("  krust ÷ echo: {:.2}", k_qps / r_qps);
    let (kp_qps, kp_lat, kp_lost) = summarize(&krust_paced);
    let (rp_qps, rp_lat, rp_lost) = summarize(&reference_paced);
    println!(
        "  paced at {rate:.0} queries/s ({} sockets on one thread, sent on a schedule whatever the answers):",
        DNS_LOAD.sockets
    );
    println!(
        "  krust DNS: {kp_qps:.0} answered/s, p50 {}, p99 {}, lost {kp_lost}",
        us(kp_lat.p50),
        us(kp_lat.p99)
    );
    println!(
        "  echo reference: {rp_qps:.0} answered/s, p50 {}, p99 {}, lost {rp_lost}",
        us(rp_lat.p50),
        us(rp_lat.p99)
    );
    verdicts.check(
        "network.dns-qps",
        "  DNS queries/s",
        k_qps,
        args.services >= 1000,
        &format!(" — {k_qps:.0}"),
    );
    verdicts.check(
        "network.dns-p99",
        "  DNS latency p99",
        kp_lat.p99.as_secs_f64() * 1000.0,
        args.services >= 1000,
        &format!(" — {} at {rate:.0} queries/s", us(kp_lat.p99)),
    );
    for j in 0..headless_n {
        let name = format!("dns-h-{j}");
        let _ = services.delete(&name, &DeleteParams::default()).await;
        let _ = slices.delete(&name, &DeleteParams::default()).await;
    }
    Ok(())
}
