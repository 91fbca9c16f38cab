//! `krust-bench scheduler`: how fast krust's scheduler places pods created through the API on
//! many nodes, against kube-scheduler's own CI floor.
//!
//! An in-process API server over a temporary store; N nodes (krust-kubelet sim nodes, or bare
//! Node objects as kube-scheduler's `scheduler_perf` uses); the scheduler
//! (`krust_scheduler::run`, its own client); then P plain pods (small cpu/memory requests, no
//! controller) created through the API with a bounded number in flight. The scheduler and the
//! sim nodes reach the API over the in-process transport, as in `krust server`; the pods are
//! created and watched over HTTPS, as a user would. A watch on the pods
//! notes when each one's `spec.nodeName` is first seen. Throughput is pods bound per second
//! from the first create sent to the last binding seen; latency is from a pod's create
//! acknowledgment to its binding seen.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use krust_kubelet::sim::{SimNodes, SimOptions};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::sync::watch;

use crate::cluster::{self, Cluster, Requests, Usage, quantile_ms};
use crate::reference::{self, Speed};
use crate::spec::{Verdicts, target};

/// Node capacity (and allocatable), as scheduler_perf's `node-default.yaml`.
const NODE_CPU: &str = "4";
const NODE_MEMORY: &str = "32Gi";
const NODE_PODS: usize = 110;
/// Every pod's requests (and limits), as scheduler_perf's `pod-default.yaml`: 40 fit a node.
const POD_CPU: &str = "100m";
const POD_MEMORY: &str = "500Mi";
const PODS_PER_NODE: usize = 40;
const NAMESPACE: &str = "bench-scheduler";

/// What the nodes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum NodeKind {
    /// krust-kubelet sim nodes (Lease heartbeats, status reports, bound pods go Running), with
    /// kubelet Events off.
    Sim,
    /// Node objects only (capacity, Ready condition), nothing behind them, as in
    /// kube-scheduler's scheduler_perf.
    Objects,
}

/// Options of `krust-bench scheduler`.
#[derive(Clone, Debug, clap::Args)]
pub struct SchedulerArgs {
    /// Nodes to register.
    #[arg(long, default_value_t = 5000)]
    pub nodes: usize,
    /// Pods to create and schedule, measured.
    #[arg(long, default_value_t = 10000)]
    pub pods: usize,
    /// Pods created and scheduled first, not measured (scheduler_perf's initPods); they also
    /// warm the scheduler up.
    #[arg(long, default_value_t = 1000)]
    pub init_pods: usize,
    /// Pod creations in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// What the nodes are.
    #[arg(long, value_enum, default_value = "sim")]
    pub node_kind: NodeKind,
    /// Sim nodes: seconds between Lease renewals of each node (the kubelet's 10).
    #[arg(long, default_value_t = 10)]
    pub lease_seconds: u64,
    /// Create every pod before the scheduler starts, then time the scheduler alone (from its
    /// start to the last binding; no per-pod latency; no init pods).
    #[arg(long)]
    pub precreate: bool,
    /// Bound of each phase (node registration, scheduling), seconds.
    #[arg(long, default_value_t = 300)]
    pub max_seconds: u64,
}

/// Bindings seen by the watch: pod name → (when, node).
#[derive(Default)]
struct Seen {
    bound: Mutex<HashMap<String, (Instant, String)>>,
}

/// One pod creation: when it was sent and acknowledged, or why it failed.
struct Created {
    name: String,
    sent: Instant,
    acked: Instant,
    error: Option<String>,
}

/// Runs the benchmark, prints its report and judges it against `SPECIFICATION.md`.
pub async fn run(args: SchedulerArgs) -> Result<Verdicts> {
    anyhow::ensure!(
        args.nodes > 0 && args.pods > 0,
        "--nodes and --pods must be positive"
    );
    let init_pods = if args.precreate { 0 } else { args.init_pods };
    anyhow::ensure!(
        args.pods + init_pods <= args.nodes * PODS_PER_NODE,
        "{} pods do not fit on {} nodes of {PODS_PER_NODE} pods of {POD_CPU} cpu",
        args.pods + init_pods,
        args.nodes
    );
    let max = Duration::from_secs(args.max_seconds);
    print_header(&args);

    let cluster = Cluster::start("scheduler").await?;
    let bench = cluster.client().await?;
    cluster::create_namespace(&bench, NAMESPACE).await?;

    // Nodes.
    eprintln!("registering {} nodes ({:?})", args.nodes, args.node_kind);
    let before = Usage::now();
    let started = Instant::now();
    let node_client = cluster.component("system:krust-sim-nodes");
    let registering = async {
        match args.node_kind {
            NodeKind::Sim => {
                let opts = SimOptions {
                    count: args.nodes,
                    prefix: "bench-node".into(),
                    cpu: NODE_CPU.into(),
                    memory: NODE_MEMORY.into(),
                    pods: NODE_PODS as u32,
                    lease_interval: Duration::from_secs(args.lease_seconds.max(1)),
                    events: false,
                    // No node IPAM runs here: take the fallback pod range at once rather
                    // than delaying every pod's Running status by the wait.
                    pod_cidr_wait: Duration::ZERO,
                    ..SimOptions::default()
                };
                SimNodes::start(node_client, opts).await.map(Some)
            }
            NodeKind::Objects => create_nodes(&node_client, args.nodes, args.concurrency)
                .await
                .map(|()| None),
        }
    };
    let sim = match tokio::time::timeout(max, registering).await {
        Ok(sim) => sim.context("registering nodes")?,
        Err(_) => bail!(
            "registering {} nodes took more than {} s (--max-seconds)",
            args.nodes,
            args.max_seconds
        ),
    };
    let registration = started.elapsed();
    println!(
        "nodes: {} registered in {:.2} s ({:.0} nodes/s); {}",
        args.nodes,
        registration.as_secs_f64(),
        args.nodes as f64 / registration.as_secs_f64(),
        Usage::now().since(&before)
    );
    let node_names: Vec<String> = (0..args.nodes).map(|i| format!("bench-node-{i}")).collect();

    // The watch that sees bindings.
    let seen = Arc::new(Seen::default());
    let (count_tx, mut count_rx) = watch::channel(0usize);
    let (synced_tx, mut synced_rx) = watch::channel(false);
    let watching = tokio::spawn(watch_pods(
        cluster.client().await?,
        seen.clone(),
        count_tx,
        synced_tx,
    ));
    synced_rx
        .wait_for(|s| *s)
        .await
        .context("the pod watch ended")?;

    let scheduler_client = cluster.component("system:kube-scheduler");
    let mut scheduler = None;
    let start_scheduler = |scheduler: &mut Option<tokio::task::JoinHandle<Result<()>>>| {
        *scheduler = Some(tokio::spawn(krust_scheduler::run(scheduler_client.clone())));
    };
    let pods: Api<Pod> = Api::namespaced(bench.clone(), NAMESPACE);
    if !args.precreate {
        // Init pods (at least one: a pod bound proves the scheduler has its caches).
        start_scheduler(&mut scheduler);
        let warm = Instant::now();
        let n = init_pods.max(1);
        let deadline = tokio::time::Instant::from_std(warm + max);
        let created = create_pods(&pods, "init", n, args.concurrency, deadline, None).await;
        if let Some(e) = created.iter().find_map(|c| c.error.as_ref()) {
            bail!("creating init pods: {e}");
        }
        let bound = tokio::time::timeout_at(deadline, count_rx.wait_for(|b| *b >= n))
            .await
            .is_ok_and(|r| r.is_ok());
        anyhow::ensure!(
            bound,
            "only {}/{n} init pods bound within {} s",
            *count_rx.borrow(),
            args.max_seconds
        );
        println!(
            "init: scheduler started, {n} init pods created and bound in {:.2} s ({:.0} pods/s)",
            warm.elapsed().as_secs_f64(),
            n as f64 / warm.elapsed().as_secs_f64()
        );
    }
    let warmup = *count_rx.borrow();

    // Create the pods; with --precreate, before the scheduler runs.
    let speed_before = reference::rate_now().await;
    let rev_before = cluster::revision(&bench).await?;
    let requests_before = Requests::read(&bench).await?;
    let before = Usage::now();
    let t0 = Instant::now();
    let deadline = tokio::time::Instant::from_std(t0 + max);
    let created_count = Arc::new(AtomicUsize::new(0));
    let progress = tokio::spawn(progress(
        t0,
        created_count.clone(),
        count_rx.clone(),
        warmup,
    ));
    let creates = create_pods(
        &pods,
        "pod",
        args.pods,
        args.concurrency,
        deadline,
        Some(&created_count),
    )
    .await;
    let created_ok = creates.iter().filter(|c| c.error.is_none()).count();
    let created_at = creates.iter().map(|c| c.acked).max().unwrap_or(t0);
    let create_time = created_at.duration_since(t0);
    let t_sched = if args.precreate {
        eprintln!("{created_ok} pods created; starting the scheduler");
        start_scheduler(&mut scheduler);
        Instant::now()
    } else {
        t0
    };

    // Wait for every created pod to be bound (or the scheduler to stop, or time to run out).
    let target = created_ok + warmup;
    let scheduler_task = scheduler.as_mut().context("no scheduler")?;
    let mut scheduler_stopped = None;
    let deadline = tokio::time::Instant::from_std(t_sched + max);
    let all_bound = tokio::select! {
        r = tokio::time::timeout_at(deadline, count_rx.wait_for(|n| *n >= target)) => matches!(r, Ok(Ok(_))),
        r = &mut *scheduler_task => {
            scheduler_stopped = Some(match r {
                Ok(Ok(())) => "returned".to_string(),
                Ok(Err(e)) => format!("failed: {e:#}"),
                Err(e) => format!("panicked: {e}"),
            });
            false
        }
    };
    let usage = Usage::now().since(&before);
    progress.abort();
    let speed = Speed {
        before: speed_before,
        after: reference::rate_now().await,
    };
    let rev_after = cluster::revision(&bench).await?;
    let requests = Requests::read(&bench).await?.since(&requests_before, 8);

    // Results.
    let bound: HashMap<String, (Instant, String)> = seen.bound.lock().expect("lock").clone();
    let mut latencies: Vec<Duration> = Vec::with_capacity(creates.len());
    let mut last_bound = None::<Instant>;
    for c in creates.iter().filter(|c| c.error.is_none()) {
        if let Some((at, _)) = bound.get(&c.name) {
            latencies.push(at.saturating_duration_since(c.acked));
            last_bound = last_bound.max(Some(*at));
        }
    }
    latencies.sort();
    let first_sent = creates.iter().map(|c| c.sent).min().unwrap_or(t0);
    let bound_n = latencies.len();
    let span = last_bound
        .map(|l| l.saturating_duration_since(if args.precreate { t_sched } else { first_sent }));
    let rate = span.map_or(0.0, |s| bound_n as f64 / s.as_secs_f64().max(1e-9));

    println!();
    println!(
        "created: {created_ok}/{} pods in {:.2} s = {:.0} pods/s ({} in flight){}",
        args.pods,
        create_time.as_secs_f64(),
        created_ok as f64 / create_time.as_secs_f64().max(1e-9),
        args.concurrency,
        match creates.iter().find_map(|c| c.error.as_ref()) {
            Some(e) => format!("; {} failed, first: {e}", creates.len() - created_ok),
            None => String::new(),
        }
    );
    if creates.len() < args.pods {
        println!(
            "  creation TIMED OUT after {} s: {} pods not sent",
            args.max_seconds,
            args.pods - creates.len()
        );
    }
    println!(
        "scheduled: {bound_n}/{created_ok} pods bound in {} = {rate:.0} pods/s ({}){}",
        cluster::secs(span),
        if args.precreate {
            "scheduler start -> last binding seen"
        } else {
            "first create sent -> last binding seen"
        },
        if all_bound {
            String::new()
        } else if let Some(why) = &scheduler_stopped {
            format!(" -- the scheduler {why}")
        } else {
            format!(" -- TIMED OUT after {} s (partial)", args.max_seconds)
        }
    );
    if args.precreate {
        println!("latency: n/a with --precreate (pods waited for the scheduler to start)");
    } else {
        println!(
            "latency create acknowledged -> binding seen: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            quantile_ms(&latencies, 0.5),
            quantile_ms(&latencies, 0.99),
            quantile_ms(&latencies, 1.0),
        );
    }
    let mut per_node: HashMap<&str, usize> = node_names.iter().map(|n| (n.as_str(), 0)).collect();
    let mut elsewhere = 0;
    for (_, node) in bound.values() {
        match per_node.get_mut(node.as_str()) {
            Some(n) => *n += 1,
            None => elsewhere += 1,
        }
    }
    let min = per_node.values().copied().min().unwrap_or(0);
    let max_per = per_node.values().copied().max().unwrap_or(0);
    let placed = bound.len();
    let ideal_low = placed / args.nodes;
    let ideal_high = placed.div_ceil(args.nodes);
    println!(
        "spread (init and measured pods): min {min}, max {max_per} pods per node (even: \
         {ideal_low}..{ideal_high}){}",
        if elsewhere > 0 {
            format!("; {elsewhere} bound to nodes not registered here")
        } else {
            String::new()
        }
    );
    println!(
        "store: revision {rev_before} -> {rev_after} (+{}, {:.1} writes per pod), files {:.0} MiB",
        rev_after - rev_before,
        (rev_after - rev_before) as f64 / created_ok.max(1) as f64,
        cluster.store_bytes() as f64 / (1024.0 * 1024.0)
    );
    println!("process: {usage}");
    println!("api server: {requests}");
    println!(
        "memory: peak RSS (VmHWM) {:.0} MiB, now {:.0} MiB (whole process)",
        cluster::peak_rss_mib(),
        cluster::rss_mib()
    );
    println!("{}", speed.line());
    println!(
        "normalized: {:.1} pods scheduled per 1,000 reference rounds (comparable across runs \
         while this machine's speed drifts)",
        speed.normalized(rate)
    );
    println!();
    let anchors = if args.nodes == 5000 {
        ""
    } else {
        " [the promises are for 5,000 nodes]"
    };
    let mut verdicts = Verdicts::default();
    verdicts.check(
        "scheduler.kube-scheduler-floor",
        "kube-scheduler CI floor at 5,000 nodes",
        rate,
        all_bound,
        anchors,
    );
    let target_line = "target on the 2-core benchmark machine";
    verdicts.check(
        "scheduler.pods-per-second",
        target_line,
        rate,
        all_bound,
        anchors,
    );
    let peak = cluster::peak_rss_mib();
    verdicts.check("scheduler.peak-memory", "peak memory", peak, true, anchors);

    if let Some(s) = scheduler.take() {
        s.abort();
    }
    watching.abort();
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    Ok(verdicts)
}

fn print_header(args: &SchedulerArgs) {
    println!(
        "krust-bench scheduler: {} pods created through the API onto {} nodes",
        args.pods, args.nodes
    );
    println!("{}", cluster::machine_line());
    let nodes = match args.node_kind {
        NodeKind::Sim => format!(
            "krust-kubelet sim nodes (Lease every {} s, status every 60 s, bound pods go Running \
             at once; no kubelet Events)",
            args.lease_seconds
        ),
        NodeKind::Objects => "Node objects only, nothing behind them (as scheduler_perf)".into(),
    };
    println!("nodes: {nodes}, each {NODE_CPU} cpu, {NODE_MEMORY}, {NODE_PODS} pods");
    println!(
        "pods: plain (no controller), requests = limits {POD_CPU} cpu / {POD_MEMORY}; {} creates \
         in flight; {}",
        args.concurrency,
        if args.precreate {
            "all created before the scheduler starts".to_string()
        } else {
            format!(
                "{} init pods scheduled first (not measured), then {} measured, created while \
                 the scheduler runs",
                args.init_pods, args.pods
            )
        }
    );
    println!(
        "anchors (SPECIFICATION.md): kube-scheduler CI floor {:.0} pods/s (scheduler_perf \
         SchedulingBasic/5000Nodes_10000Pods: 5,000 nodes, 1,000 init pods, 10,000 measured); \
         target {:.0} pods/s; peak memory {:.0} MiB; every phase bounded by {} s",
        target("scheduler.kube-scheduler-floor").value,
        target("scheduler.pods-per-second").value,
        target("scheduler.peak-memory").value,
        args.max_seconds
    );
    println!();
}

/// A plain pod with small requests.
fn pod_object(name: &str) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": "bench"}},
        "spec": {
            "containers": [{
                "name": "app",
                "image": "registry.k8s.io/pause:3.10",
                "resources": {
                    "requests": {"cpu": POD_CPU, "memory": POD_MEMORY},
                    "limits": {"cpu": POD_CPU, "memory": POD_MEMORY},
                },
            }],
        },
    }))
    .expect("a valid pod")
}

/// Creates pods `<prefix>-00000`… with `concurrency` in flight, starting none after
/// `deadline`; counts the answers in `counter`.
async fn create_pods(
    pods: &Api<Pod>,
    prefix: &str,
    count: usize,
    concurrency: usize,
    deadline: tokio::time::Instant,
    counter: Option<&AtomicUsize>,
) -> Vec<Created> {
    futures::stream::iter(0..count)
        .take_until(tokio::time::sleep_until(deadline))
        .map(|i| async move {
            let name = format!("{prefix}-{i:05}");
            let sent = Instant::now();
            let result = pods
                .create(&PostParams::default(), &pod_object(&name))
                .await;
            let acked = Instant::now();
            if let Some(c) = counter {
                c.fetch_add(1, Ordering::Relaxed);
            }
            Created {
                name,
                sent,
                acked,
                error: result.err().map(|e| e.to_string()),
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}

/// Creates `count` bare Nodes, Ready, with capacity and allocatable.
async fn create_nodes(client: &kube::Client, count: usize, concurrency: usize) -> Result<()> {
    let api: Api<Node> = Api::all(client.clone());
    let resources = json!({"cpu": NODE_CPU, "memory": NODE_MEMORY, "pods": NODE_PODS.to_string()});
    let status = json!({
        "capacity": resources,
        "allocatable": resources,
        "conditions": [{
            "type": "Ready", "status": "True", "reason": "KubeletReady",
            "message": "kubelet is posting ready status",
        }],
    });
    futures::stream::iter(0..count)
        .map(|i| {
            let api = api.clone();
            let status = status.clone();
            async move {
                let name = format!("bench-node-{i}");
                let node: Node = serde_json::from_value(json!({
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {"name": name, "labels": {
                        "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64", "type": "bench",
                    }},
                    "status": status,
                }))?;
                let created = api.create(&PostParams::default(), &node).await?;
                let has_allocatable = created
                    .status
                    .as_ref()
                    .and_then(|s| s.allocatable.as_ref())
                    .is_some();
                if !has_allocatable {
                    api.patch_status(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({ "status": status })),
                    )
                    .await?;
                }
                anyhow::Ok(())
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// What the binding watch reads of a pod: its name and node, nothing else (the benchmark's
/// own watch should cost the process it measures as little as it can).
#[derive(Clone, serde::Deserialize)]
struct BoundPod {
    metadata: BoundMeta,
    spec: BoundSpec,
}

#[derive(Clone, serde::Deserialize)]
struct BoundMeta {
    name: String,
    #[serde(rename = "resourceVersion")]
    resource_version: String,
}

#[derive(Clone, serde::Deserialize)]
struct BoundSpec {
    #[serde(rename = "nodeName")]
    node_name: String,
}

/// Notes when each pod's `spec.nodeName` is first seen; counts them in `count`. Watches only
/// bound pods (`spec.nodeName!=`), from the revision at its start; `synced` once watching.
async fn watch_pods(
    client: kube::Client,
    seen: Arc<Seen>,
    count: watch::Sender<usize>,
    synced: watch::Sender<bool>,
) {
    let mut from = match cluster::revision(&client).await {
        Ok(rev) => rev.to_string(),
        Err(e) => return eprintln!("pod watch: {e:#}"),
    };
    loop {
        let uri = format!(
            "/api/v1/namespaces/{NAMESPACE}/pods?watch=1&fieldSelector=spec.nodeName%21%3D&resourceVersion={from}"
        );
        let request = http::Request::get(uri)
            .body(Vec::new())
            .expect("a valid request");
        let mut events = match client.request_events::<BoundPod>(request).await {
            Ok(events) => std::pin::pin!(events),
            Err(e) => {
                eprintln!("pod watch: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        synced.send_replace(true);
        while let Some(event) = events.next().await {
            use kube::api::WatchEvent;
            let pod = match event {
                Ok(WatchEvent::Added(pod) | WatchEvent::Modified(pod)) => pod,
                Ok(WatchEvent::Bookmark(b)) => {
                    from = b.metadata.resource_version;
                    continue;
                }
                Ok(WatchEvent::Deleted(_)) => continue,
                Ok(WatchEvent::Error(e)) => {
                    eprintln!("pod watch: {e}");
                    break;
                }
                Err(e) => {
                    eprintln!("pod watch: {e}");
                    break;
                }
            };
            let now = Instant::now();
            from = pod.metadata.resource_version;
            let mut bound = seen.bound.lock().expect("lock");
            if let std::collections::hash_map::Entry::Vacant(e) = bound.entry(pod.metadata.name) {
                e.insert((now, pod.spec.node_name));
                let n = bound.len();
                drop(bound);
                count.send_replace(n);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every 5 s on stderr: pods created and bound so far.
async fn progress(
    t0: Instant,
    created: Arc<AtomicUsize>,
    bound: watch::Receiver<usize>,
    warmup: usize,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.tick().await;
    loop {
        tick.tick().await;
        eprintln!(
            "  {:>5.0} s: {} created, {} bound",
            t0.elapsed().as_secs_f64(),
            created.load(Ordering::Relaxed),
            bound.borrow().saturating_sub(warmup)
        );
    }
}
