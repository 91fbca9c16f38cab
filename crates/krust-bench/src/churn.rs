//! `krust-bench churn`: a large Deployment created and rolled on simulated nodes, the whole
//! control plane in one process: API server, controller manager (`krust_controllers::run_all`),
//! scheduler (`krust_scheduler::run`) and krust-kubelet sim nodes, each with its own client.
//! The control loops are supervised as `krust server` runs them: `run_all` restarts each
//! controller that fails or panics, and the scheduler runs under
//! `krust_component::supervise::supervise`; a failure is logged (`tracing::error!`, shown
//! on stderr) and the loop restarted with backoff, so a phase runs until done or timed out.
//!
//! Phase 1 creates a Deployment of R replicas and times, from the create, until every pod
//! exists, is bound, is Running, and the Deployment reports R available. Phase 2 changes the
//! image and times until the rollout is complete as `kubectl rollout status` sees it
//! (observedGeneration caught up, updated == replicas == available) and no old pod is left.
//! Watches on the pods and the Deployment feed both; they also record how far the rollout
//! went below the available count maxUnavailable allows and above the count maxSurge allows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use krust_kubelet::sim::{SimNodes, SimOptions};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use tokio::sync::Notify;

use crate::cluster::{self, Cluster, Requests, Usage, secs};
use crate::reference::{self, Speed};
use crate::spec::Verdicts;

const NAMESPACE: &str = "bench-churn";
const NAME: &str = "churn";
const IMAGE_V1: &str = "registry.k8s.io/pause:3.9";
const IMAGE_V2: &str = "registry.k8s.io/pause:3.10";

/// Options of `krust-bench churn`.
#[derive(Clone, Debug, clap::Args)]
pub struct ChurnArgs {
    /// Replicas of the Deployment.
    #[arg(long, default_value_t = 1000)]
    pub replicas: usize,
    /// Sim nodes.
    #[arg(long, default_value_t = 100)]
    pub nodes: usize,
    /// Turn the sim nodes' kubelet Events (Pulled, Created, Started…) off.
    #[arg(long)]
    pub no_kubelet_events: bool,
    /// Bound of each phase (cluster up, create, roll), seconds.
    #[arg(long, default_value_t = 300)]
    pub max_seconds: u64,
}

/// A pod as the watch last showed it.
struct PodView {
    image: String,
    bound: bool,
    running: bool,
    ready: bool,
    terminating: bool,
}

/// The Deployment as the watch last showed it.
#[derive(Clone, Debug, Default)]
struct DeployView {
    generation: i64,
    observed: i64,
    replicas: i32,
    updated: i32,
    available: i32,
}

#[derive(Default)]
struct State {
    /// By uid.
    pods: HashMap<String, PodView>,
    deploy: DeployView,
    /// ReplicaSets' `spec.replicas` by uid.
    replica_sets: HashMap<String, i32>,
}

/// What the watches share with the phases.
#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Notify,
}

/// Counts over the pods (of the image `want`) and the Deployment.
#[derive(Clone, Debug, Default)]
struct Counts {
    /// Pods that exist, terminating or not.
    existing: usize,
    /// Not terminating.
    active: usize,
    /// Not terminating, of image `want`.
    created: usize,
    bound: usize,
    running: usize,
    /// Not terminating and Ready (any image).
    ready: usize,
    /// Pods of another image, terminating or not.
    old: usize,
    deploy: DeployView,
    /// The ReplicaSets' `spec.replicas`, summed (what maxSurge bounds).
    rs_total: i32,
}

impl Shared {
    fn counts(&self, want: &str) -> Counts {
        let state = self.state.lock().expect("lock");
        let mut c = Counts {
            existing: state.pods.len(),
            deploy: state.deploy.clone(),
            rs_total: state.replica_sets.values().sum(),
            ..Counts::default()
        };
        for p in state.pods.values() {
            if p.image != want {
                c.old += 1;
            }
            if p.terminating {
                continue;
            }
            c.active += 1;
            c.ready += usize::from(p.ready);
            if p.image == want {
                c.created += 1;
                c.bound += usize::from(p.bound);
                c.running += usize::from(p.running);
            }
        }
        c
    }
}

/// When each milestone of a phase was first reached, from the phase's start.
#[derive(Default)]
struct Milestones(Vec<(&'static str, Option<Duration>)>);

impl Milestones {
    fn new(names: &[&'static str]) -> Self {
        Self(names.iter().map(|n| (*n, None)).collect())
    }

    fn reach(&mut self, name: &str, reached: bool, at: Duration) {
        for (n, t) in &mut self.0 {
            if *n == name && reached && t.is_none() {
                *t = Some(at);
            }
        }
    }

    fn get(&self, name: &str) -> Option<Duration> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, t)| *t)
    }

    fn all(&self) -> bool {
        self.0.iter().all(|(_, t)| t.is_some())
    }

    fn print(&self) {
        for (name, t) in &self.0 {
            println!("  {name:<44} {}", secs(*t));
        }
    }
}

/// Runs the benchmark and prints its report; it checks no target of `SPECIFICATION.md`.
pub async fn run(args: ChurnArgs) -> Result<Verdicts> {
    anyhow::ensure!(
        args.replicas > 0 && args.nodes > 0,
        "--replicas and --nodes must be positive"
    );
    anyhow::ensure!(
        args.replicas * 5 / 4 <= args.nodes * 110,
        "{} replicas (with 25% surge) do not fit on {} nodes of 110 pods",
        args.replicas,
        args.nodes
    );
    let max = Duration::from_secs(args.max_seconds);
    let replicas = args.replicas;
    print_header(&args);

    // The cluster: server, controllers, scheduler, sim nodes.
    let before = Usage::now();
    let started = Instant::now();
    let cluster = Cluster::start("churn").await?;
    let bench = cluster.client().await?;
    // Both never return: failed loops are logged and restarted with backoff.
    let controllers = tokio::spawn(krust_controllers::run_all(
        cluster.component("system:kube-controller-manager"),
    ));
    let scheduler = {
        let c = cluster.component("system:kube-scheduler");
        tokio::spawn(krust_component::supervise::supervise(
            "scheduler",
            move || krust_scheduler::run(c.clone()),
        ))
    };
    let opts = SimOptions {
        count: args.nodes,
        prefix: "churn-node".into(),
        events: !args.no_kubelet_events,
        ..SimOptions::default()
    };
    let sim_client = cluster.component("system:krust-sim-nodes");
    let sim = match tokio::time::timeout(max, SimNodes::start(sim_client, opts)).await {
        Ok(sim) => sim.context("starting sim nodes")?,
        Err(_) => bail!(
            "registering {} sim nodes took more than {max:?}",
            args.nodes
        ),
    };
    // Up when every node has its pod CIDR (node IPAM ran) and is Ready.
    let nodes: Api<Node> = Api::all(bench.clone());
    let deadline = Instant::now() + max;
    loop {
        let list = nodes.list(&ListParams::default()).await?;
        let up = list
            .items
            .iter()
            .filter(|n| {
                let spec = n.spec.as_ref();
                let cidr = spec.and_then(|s| s.pod_cidr.as_ref()).is_some();
                let ready = n
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                cidr && ready
            })
            .count();
        if up >= args.nodes {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "only {up}/{} nodes got a pod CIDR and Ready within {max:?}",
                args.nodes
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    cluster::create_namespace(&bench, NAMESPACE).await?;
    println!(
        "cluster up: {} sim nodes Ready with pod CIDRs after {:.2} s; {}",
        args.nodes,
        started.elapsed().as_secs_f64(),
        Usage::now().since(&before)
    );

    let shared = Arc::new(Shared::default());
    let mut watches = vec![
        tokio::spawn(watch_views(
            cluster.client().await?,
            shared.clone(),
            |s| &mut s.pods,
            pod_view,
        )),
        tokio::spawn(watch_deployment(cluster.client().await?, shared.clone())),
        tokio::spawn(watch_views(
            cluster.client().await?,
            shared.clone(),
            |s| &mut s.replica_sets,
            |rs: &ReplicaSet| rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        )),
    ];
    let deployments: Api<Deployment> = Api::namespaced(bench.clone(), NAMESPACE);

    // Phase 1: create.
    let speed_before = reference::rate_now().await;
    let rev0 = cluster::revision(&bench).await?;
    let requests0 = Requests::read(&bench).await?;
    let before = Usage::now();
    let t0 = Instant::now();
    let created = deployments
        .create(&PostParams::default(), &deployment(replicas))
        .await
        .context("creating the Deployment")?;
    let gen1 = created.metadata.generation.unwrap_or(1);
    let mut create = Milestones::new(&[
        "all pods created",
        "all pods bound",
        "all pods Running",
        "Deployment reports all available",
    ]);
    let mut create_peak = 0usize;
    let outcome = follow(&shared, IMAGE_V1, t0, max, |c, at| {
        create_peak = create_peak.max(c.active);
        create.reach("all pods created", c.created >= replicas, at);
        create.reach("all pods bound", c.bound >= replicas, at);
        create.reach("all pods Running", c.running >= replicas, at);
        let d = &c.deploy;
        create.reach(
            "Deployment reports all available",
            d.observed >= gen1 && d.available as usize >= replicas,
            at,
        );
        create.all()
    })
    .await;
    let usage1 = Usage::now().since(&before);
    let rev1 = cluster::revision(&bench).await?;
    let requests1 = Requests::read(&bench).await?;
    let peak1 = cluster::peak_rss_mib();
    println!();
    println!(
        "phase 1: create a Deployment of {replicas} replicas ({}):",
        outcome.describe(max)
    );
    create.print();
    if let Some(t) = create.get("all pods Running") {
        println!(
            "  = {:.0} pods/s to Running",
            replicas as f64 / t.as_secs_f64().max(1e-9)
        );
    }
    println!(
        "  pods not terminating at most {create_peak} (replicas {replicas}); store revision \
         {rev0} -> {rev1} (+{}, {:.1} writes per pod)",
        rev1 - rev0,
        (rev1 - rev0) as f64 / replicas as f64
    );
    println!("  process: {usage1}; peak RSS {peak1:.0} MiB");
    println!("  api server: {}", requests1.since(&requests0, 10));
    let phase1_ok = outcome == Outcome::Done;

    // Phase 2: roll to a new image.
    let mut roll = Milestones::new(&[
        "rollout complete (kubectl rollout status)",
        "no old pod left, all Running",
    ]);
    let (mut min_ready, mut max_active, mut max_rs_total) = (usize::MAX, 0usize, 0i32);
    let mut outcome2 = Outcome::Skipped;
    let (rev2, usage2, requests2) = if phase1_ok {
        let before = Usage::now();
        let t1 = Instant::now();
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": IMAGE_V2},
        ]}}}});
        let patched = deployments
            .patch(NAME, &PatchParams::default(), &Patch::Strategic(patch))
            .await
            .context("changing the image")?;
        let gen2 = patched.metadata.generation.unwrap_or(0);
        anyhow::ensure!(
            gen2 > gen1,
            "the image change left generation at {gen2} (was {gen1})"
        );
        outcome2 = follow(&shared, IMAGE_V2, t1, max, |c, at| {
            min_ready = min_ready.min(c.ready);
            max_active = max_active.max(c.active);
            max_rs_total = max_rs_total.max(c.rs_total);
            let d = &c.deploy;
            let r = replicas as i32;
            roll.reach(
                "rollout complete (kubectl rollout status)",
                d.observed >= gen2 && d.updated == r && d.replicas == r && d.available == r,
                at,
            );
            roll.reach(
                "no old pod left, all Running",
                c.old == 0 && c.existing == replicas && c.running == replicas,
                at,
            );
            roll.all()
        })
        .await;
        (
            cluster::revision(&bench).await?,
            Some(Usage::now().since(&before)),
            Some(Requests::read(&bench).await?.since(&requests1, 10)),
        )
    } else {
        (rev1, None, None)
    };
    println!();
    println!(
        "phase 2: change the image, RollingUpdate 25%/25% ({}):",
        outcome2.describe(max)
    );
    roll.print();
    if outcome2 != Outcome::Skipped {
        let allowed_min = replicas - replicas / 4;
        let allowed_max = replicas + replicas.div_ceil(4);
        println!(
            "  ready pods at least {min_ready} (maxUnavailable allows >= {allowed_min}: {}); \
             ReplicaSets' replicas summed at most {max_rs_total} (maxSurge allows <= \
             {allowed_max}: {})",
            if min_ready >= allowed_min {
                "ok"
            } else {
                "BELOW"
            },
            if max_rs_total as usize <= allowed_max {
                "ok"
            } else {
                "ABOVE"
            },
        );
        println!(
            "  pods not terminating at most {max_active} (Kubernetes bounds the ReplicaSets' \
             replicas, not this: pods of a scaled-down ReplicaSet count until it deletes them)"
        );
        println!(
            "  store revision {rev1} -> {rev2} (+{}, {:.1} writes per replaced pod)",
            rev2 - rev1,
            (rev2 - rev1) as f64 / replicas as f64
        );
    }
    if let Some(u) = usage2 {
        println!("  process: {u}");
    }
    if let Some(r) = requests2 {
        println!("  api server: {r}");
    }

    println!();
    println!(
        "memory: peak RSS (VmHWM) {:.0} MiB, now {:.0} MiB (whole process: server, control \
         loops, {} sim nodes, benchmark clients)",
        cluster::peak_rss_mib(),
        cluster::rss_mib(),
        args.nodes
    );
    println!(
        "store: revision {rev0} -> {rev2} over both phases (+{}), files {:.0} MiB",
        rev2 - rev0,
        cluster.store_bytes() as f64 / (1024.0 * 1024.0)
    );
    let speed = Speed {
        before: speed_before,
        after: reference::rate_now().await,
    };
    println!("{}", speed.line());

    for w in watches.drain(..) {
        w.abort();
    }
    controllers.abort();
    scheduler.abort();
    sim.shutdown().await;
    Ok(Verdicts::default())
}

/// How a phase ended.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Done,
    TimedOut,
    Skipped,
}

impl Outcome {
    fn describe(&self, max: Duration) -> String {
        match self {
            Outcome::Done => "done".into(),
            Outcome::TimedOut => format!("TIMED OUT after {} s, partial", max.as_secs()),
            Outcome::Skipped => "skipped: phase 1 did not finish".into(),
        }
    }
}

/// Feeds `step` the counts (for image `want`) and the time since `t0` at every change the
/// watches see, until it returns true or `max` passes.
async fn follow(
    shared: &Shared,
    want: &str,
    t0: Instant,
    max: Duration,
    mut step: impl FnMut(&Counts, Duration) -> bool,
) -> Outcome {
    let deadline = tokio::time::Instant::from_std(t0 + max);
    let mut report = tokio::time::interval(Duration::from_secs(5));
    report.tick().await;
    loop {
        let counts = shared.counts(want);
        if step(&counts, t0.elapsed()) {
            return Outcome::Done;
        }
        tokio::select! {
            _ = shared.changed.notified() => {}
            _ = report.tick() => {
                let d = &counts.deploy;
                eprintln!(
                    "  {:>5.0} s: pods {} (new: {} created, {} bound, {} Running; old {}), \
                     ready {}; deployment gen {}/{} updated {} available {}",
                    t0.elapsed().as_secs_f64(), counts.existing, counts.created, counts.bound,
                    counts.running, counts.old, counts.ready, d.observed, d.generation,
                    d.updated, d.available,
                );
            }
            _ = tokio::time::sleep_until(deadline) => return Outcome::TimedOut,
        }
    }
}

fn print_header(args: &ChurnArgs) {
    println!(
        "krust-bench churn: a Deployment of {} replicas created, then rolled to a new image, on \
         {} sim nodes",
        args.replicas, args.nodes
    );
    println!("{}", cluster::machine_line());
    println!(
        "control plane: API server + controller manager (run_all) + scheduler, each with its own \
         client; sim nodes: 4 cpu, 16Gi, 110 pods, Lease every 10 s, kubelet Events {}",
        if args.no_kubelet_events { "off" } else { "on" }
    );
    println!(
        "pods: requests 10m cpu / 32Mi; RollingUpdate maxSurge 25%, maxUnavailable 25%; every \
         phase bounded by {} s",
        args.max_seconds
    );
}

fn deployment(replicas: usize) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": NAME}},
            "template": {
                "metadata": {"labels": {"app": NAME}},
                "spec": {"containers": [{
                    "name": "app",
                    "image": IMAGE_V1,
                    "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
                }]},
            },
        },
    }))
    .expect("a valid Deployment")
}

fn pod_view(pod: &Pod) -> PodView {
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    PodView {
        image: spec
            .and_then(|s| s.containers.first())
            .and_then(|c| c.image.clone())
            .unwrap_or_default(),
        bound: spec.and_then(|s| s.node_name.as_ref()).is_some(),
        running: status.and_then(|s| s.phase.as_deref()) == Some("Running"),
        ready: status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
        terminating: pod.metadata.deletion_timestamp.is_some(),
    }
}

/// Keeps `map(state)` equal to the objects of kind `K` in the namespace, by uid, each as
/// `view` sees it; wakes the phases at every change.
async fn watch_views<K, V>(
    client: kube::Client,
    shared: Arc<Shared>,
    map: fn(&mut State) -> &mut HashMap<String, V>,
    view: fn(&K) -> V,
) where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + 'static,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client, NAMESPACE);
    let mut stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    while let Some(event) = stream.next().await {
        let mut state = shared.state.lock().expect("lock");
        let views = map(&mut state);
        match event {
            Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                let uid = o.meta().uid.clone().unwrap_or_default();
                views.insert(uid, view(&o));
            }
            Ok(watcher::Event::Delete(o)) => {
                views.remove(o.meta().uid.as_deref().unwrap_or_default());
            }
            Ok(watcher::Event::Init) => views.clear(),
            Ok(watcher::Event::InitDone) => {}
            Err(e) => eprintln!("{} watch: {e}", K::kind(&Default::default())),
        }
        drop(state);
        shared.changed.notify_one();
    }
}

async fn watch_deployment(client: kube::Client, shared: Arc<Shared>) {
    let api: Api<Deployment> = Api::namespaced(client, NAMESPACE);
    let mut stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    while let Some(event) = stream.next().await {
        match event {
            Ok(watcher::Event::Apply(d) | watcher::Event::InitApply(d)) => {
                let status = d.status.clone().unwrap_or_default();
                shared.state.lock().expect("lock").deploy = DeployView {
                    generation: d.metadata.generation.unwrap_or(0),
                    observed: status.observed_generation.unwrap_or(0),
                    replicas: status.replicas.unwrap_or(0),
                    updated: status.updated_replicas.unwrap_or(0),
                    available: status.available_replicas.unwrap_or(0),
                };
                shared.changed.notify_one();
            }
            Ok(_) => {}
            Err(e) => eprintln!("deployment watch: {e}"),
        }
    }
}
