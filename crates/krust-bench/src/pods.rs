//! `krust-bench pods`: the real node against runc and podman, in the same run (issue 10's
//! "How it is shown").
//!
//! 1. One container's start→exit (`/bin/true`, 64 MiB memory limit) through krust's runtime
//!    (`container`), against `runc run` (`runc`) and `podman run` (`podman`) of the same image.
//! 2. Pod startup, create → Running seen through a watch (`startup`), for one pod at a time
//!    and for many created at once, on a `krust server` process whose node is this host
//!    (`server`), against `podman run -d` of the same long-running container.
//! 3. Memory (`stats`): the server's resident set idle (node registered, image loaded, no
//!    pod), and per running pod the server's growth plus its container monitors' proportional
//!    set size (the `krust monitor` processes; the containers' own processes are not krust's).
//!
//! The image is `krust_image::testing::busybox_archive`, loaded into the node's store with
//! `krust image load`, unpacked for the runtime and runc, and `podman load`ed. Nothing leaves
//! the host: pods are on the node's own bridge and range, podman runs with `--network=none`,
//! runc in a network namespace of its own.

mod container;
pub(crate) mod podman;
mod runc;
pub(crate) mod server;
pub(crate) mod startup;
pub mod stats;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Node;
use kube::api::Api;

use crate::reference::{self, Speed};
use crate::spec::Verdicts;
use stats::{Summary, mib, ms};

/// The image every pods and network benchmark runs (a static busybox, made offline).
pub(crate) const IMAGE: &str = "krust.test/bench-busybox:1";

/// Options of `krust-bench pods`.
#[derive(Clone, Debug, clap::Args)]
pub struct PodsArgs {
    /// The `krust` binary (`cargo build --release -p krust`); default: `krust` beside this
    /// program.
    #[arg(long)]
    pub krust: Option<PathBuf>,
    /// Start→exit runs of krust's runtime and of runc.
    #[arg(long, default_value_t = 30)]
    pub runs: usize,
    /// Runs of each podman reference (`podman run --rm`, `podman run -d`).
    #[arg(long, default_value_t = 10)]
    pub podman_runs: usize,
    /// One-pod startups, one after the other.
    #[arg(long, default_value_t = 20)]
    pub pod_runs: usize,
    /// Pods created at once.
    #[arg(long, default_value_t = 50)]
    pub pods: usize,
    /// Bound of each phase, seconds.
    #[arg(long, default_value_t = 60)]
    pub max_seconds: u64,
}

/// The krust binary `flag` names, or `krust` beside this program.
pub(crate) fn krust_binary_at(flag: Option<&PathBuf>) -> Result<PathBuf> {
    let path = match flag {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("this program's directory")?
            .join("krust"),
    };
    if !path.is_file() {
        bail!(
            "{} does not exist: cargo build --release -p krust (or --krust PATH)",
            path.display()
        );
    }
    Ok(path)
}

pub async fn run(args: PodsArgs) -> Result<Verdicts> {
    let krust = krust_binary_at(args.krust.as_ref())?;
    let dir = tempfile::Builder::new().prefix("krt-bench-").tempdir()?;
    let archive = krust_image::testing::busybox_archive(dir.path(), IMAGE);
    let store = krust_image::ImageStore::open(dir.path().join("images"))?;
    krust_image::archive::load_file(&store, &archive)?;
    let layers = krust_image::unpack::rootfs(&store, IMAGE)?;
    let [layer] = &layers[..] else {
        bail!("the busybox image has {} layers, not one", layers.len());
    };
    println!(
        "krust {}; image {IMAGE} (static busybox, one layer); 64 MiB memory limit everywhere",
        krust.display()
    );
    let speed_before = reference::rate_now().await;
    let memory_cgroups_before = stats::memory_cgroups();
    let mut verdicts = Verdicts::default();

    // (1) start→exit.
    let podman = podman::Podman::with_archive(&dir.path().join("podman"), &archive)?;
    let cgroup = format!("krt-bench-runc-{}", std::process::id());
    let mut runc = runc::Runc::bundle(&dir.path().join("runc"), layer, &["/bin/true"], &cgroup)?;
    let runtime =
        container::KrustRuntime::new(&dir.path().join("runtime"), &krust, layers.clone()).await?;
    let samples = container::measure(
        &runtime,
        &mut runc,
        &podman,
        IMAGE,
        args.runs,
        args.podman_runs,
    )
    .await;
    runtime.remove().await;
    drop(runc);
    let samples = samples?;
    let (k, r, p) = (
        Summary::of(&samples.krust),
        Summary::of(&samples.runc),
        Summary::of(&samples.podman),
    );
    println!("\n(1) start→exit of /bin/true");
    println!("  krust runtime (under its monitor):       {}", k.line());
    println!("  runc run:                                 {}", r.line());
    println!(
        "  podman run --rm ({}):                   {}",
        podman.oci_runtime(),
        p.line()
    );
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
    println!(
        "  medians: runc ÷ krust {:.1}x, podman ÷ krust {:.1}x",
        ratio(r.p50, k.p50),
        ratio(p.p50, k.p50)
    );
    verdicts.check(
        "pods.container-start",
        "  container start→exit median",
        k.p50.as_secs_f64() * 1000.0,
        true,
        &format!(" — {}", ms(k.p50)),
    );

    // (2) and (3) on a krust server whose node is this host.
    let data_dir = dir.path().join("server");
    let server = server::Server::start(&krust, &data_dir)?;
    let bound = Duration::from_secs(args.max_seconds);
    let result = on_server(&server, &podman, &archive, &args, bound, &mut verdicts).await;
    if result.is_err() {
        eprintln!("--- krust server log (tail) ---\n{}", server.log_tail());
    }
    drop(server);
    drop(podman);
    result?;
    let speed = Speed {
        before: speed_before,
        after: reference::rate_now().await,
    };
    println!("\n{}", speed.line());
    let count = |n: Option<u64>| n.map_or("?".to_string(), |n| n.to_string());
    println!(
        "host: {} memory cgroups before, {} after (/proc/cgroups; removed ones stay while page \
         cache is charged to them, and many slow every container start)",
        count(memory_cgroups_before),
        count(stats::memory_cgroups())
    );
    Ok(verdicts)
}

/// Parts (2) and (3) on the running server; its pods are deleted before it returns.
async fn on_server(
    server: &server::Server,
    podman: &podman::Podman,
    archive: &std::path::Path,
    args: &PodsArgs,
    bound: Duration,
    verdicts: &mut Verdicts,
) -> Result<()> {
    let client = server.client().await?;
    server.load_image(archive)?;
    node_ready(&client, &server.node, bound).await?;
    let mut watch = startup::RunningWatch::start(client.clone()).await?;
    // Idle: the node registered and ready, the image loaded, no pod; left to settle.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (idle, _, _) = server.memory()?;

    let result = pods_phase(
        server, &client, &mut watch, podman, idle, args, bound, verdicts,
    )
    .await;
    let deleted = startup::delete_all(&client, bound).await;
    result.and(deleted)
}

#[allow(clippy::too_many_arguments)]
async fn pods_phase(
    server: &server::Server,
    client: &kube::Client,
    watch: &mut startup::RunningWatch,
    podman: &podman::Podman,
    idle: stats::Memory,
    args: &PodsArgs,
    bound: Duration,
    verdicts: &mut Verdicts,
) -> Result<()> {
    // One pod at a time (each deleted before the next), interleaved with podman run -d.
    let mut one = Vec::new();
    let mut reference = Vec::new();
    for i in 0..args.pod_runs {
        let (latency, _) =
            startup::create_running(client, watch, IMAGE, &format!("one-{i}"), 1, bound).await?;
        one.extend(latency);
        startup::delete_all(client, bound).await?;
        if i < args.podman_runs {
            let name = format!("krt-bench-{}-{i}", std::process::id());
            reference.push(tokio::task::block_in_place(|| {
                podman.run_detached(IMAGE, &name)
            })?);
        }
    }
    let scheduled: Vec<Duration> = one.iter().map(|s| s.scheduled).collect();
    let total: Vec<Duration> = one.iter().map(|s| s.total).collect();
    let (one, scheduled) = (Summary::of(&total), Summary::of(&scheduled));
    let reference = Summary::of(&reference);
    println!("\n(2) pod startup, create → Running seen through a watch");
    println!("  one pod at a time:           {}", one.line());
    println!("    of which create → bound:   {}", scheduled.line());
    println!("  podman run -d (sleep):       {}", reference.line());

    // Many at once.
    let (many, all) =
        startup::create_running(client, watch, IMAGE, "many", args.pods, bound).await?;
    let many = Summary::of(&many.iter().map(|s| s.total).collect::<Vec<_>>());
    println!("  {} pods created at once:     {}", args.pods, many.line());
    println!("  all {} Running after:        {}", args.pods, ms(all));
    let faster = reference.p50.as_secs_f64() / one.p50.as_secs_f64().max(1e-9);
    verdicts.check(
        "pods.startup-p99",
        "  one pod's startup p99",
        one.p99.as_secs_f64(),
        true,
        &format!(" — {}", ms(one.p99)),
    );
    verdicts.check(
        "pods.startup-vs-podman",
        "  podman run -d median ÷ one pod's startup median",
        faster,
        true,
        &format!(" — {faster:.1}x"),
    );
    let note = if args.pods == 50 {
        String::new()
    } else {
        format!(" — {} pods; the promise is for 50", args.pods)
    };
    verdicts.check(
        "pods.fifty-running",
        &format!("  {} pods created at once all Running", args.pods),
        all.as_secs_f64(),
        true,
        &note,
    );

    // (3) memory, with the pods running.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (busy, monitors, count) = server.memory()?;
    let growth = busy.rss.saturating_sub(idle.rss);
    let per_pod = (growth + monitors.pss) as f64 / args.pods.max(1) as f64;
    println!("\n(3) memory (/proc/PID/smaps_rollup)");
    println!(
        "  krust server idle (node ready, image loaded, no pod): RSS {:.1} MiB (PSS {:.1} MiB)",
        mib(idle.rss),
        mib(idle.pss)
    );
    println!(
        "  with {} pods running: server RSS {:.1} MiB (+{:.1} MiB); {count} monitors (the \
         spare's too): PSS {:.1} MiB, RSS {:.1} MiB (shared pages counted in each)",
        args.pods,
        mib(busy.rss),
        mib(growth),
        mib(monitors.pss),
        mib(monitors.rss)
    );
    println!(
        "  per pod: (server growth + monitors' PSS) / {} = {:.2} MiB; with monitors' RSS \
         instead {:.2} MiB",
        args.pods,
        mib(per_pod as u64),
        mib((growth + monitors.rss) / args.pods.max(1) as u64)
    );
    verdicts.check(
        "pods.idle-rss",
        "  idle krust server RSS",
        mib(idle.rss),
        true,
        "",
    );
    // One monitor per pod, and the spare waiting for the next one (its memory counted in).
    let counted = count == args.pods || count == args.pods + 1;
    verdicts.check(
        "pods.memory-per-pod",
        "  krust memory per running pod",
        mib(per_pod as u64),
        counted,
        &if counted {
            String::new()
        } else {
            format!(" — {count} monitors for {} pods", args.pods)
        },
    );
    Ok(())
}

/// Waits until the node is Ready and has its pod range.
pub(crate) async fn node_ready(client: &kube::Client, name: &str, bound: Duration) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let deadline = std::time::Instant::now() + bound;
    loop {
        if let Some(node) = nodes.get_opt(name).await? {
            let ready = node
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            let cidr = node.spec.as_ref().and_then(|s| s.pod_cidr.as_ref());
            if ready && cidr.is_some() {
                return Ok(());
            }
        }
        if std::time::Instant::now() > deadline {
            bail!("node {name} not Ready with a pod range after {bound:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
