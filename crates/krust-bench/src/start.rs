//! `krust-bench start`: issue 12's local cluster timed as minikube's `time-to-k8s` benchmark
//! times minikube, kind and k3d: from `krust start` to a Ready node whose cluster DNS answers
//! (the command returns then), and from `krust start` to the first pod Running; cold (a fresh
//! profile: new store, new PKI) and warm (after `krust stop`). Printed beside `podman run -d`
//! of one container in the same run and beside the figures minikube publishes for itself,
//! kind and k3d, which cannot run here (they pull their node images).
//!
//! The image is in the node's store before the clock starts (`krust image load` into the
//! profile's data dir), as it is in the cached runs of `time-to-k8s`. The profile is the
//! benchmark's own: `krt-bench-start`, HOME and KUBECONFIG in a temporary directory, bridge
//! `krt-bstart`, pods from 10.41.0.0/24, Services from 10.41.1.0/24 (routed locally by the
//! node), free ports; deleted at the end.
//!
//! Then the dashboard on that profile ([`dashboard`]): its overview's first paint, and a
//! change seen on it.

mod dashboard;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::pods::stats::{Summary, ms};
use crate::pods::{IMAGE, podman, startup};
use crate::spec::Verdicts;

const PROFILE: &str = "krt-bench-start";

/// Published by minikube for v1.26.1 (docs "Benchmarks › Time to k8s", Linux, cached
/// images): `start` command, and the whole run to an app Running and DNS answering, seconds.
const PUBLISHED: [(&str, f64, f64); 3] = [
    ("minikube v1.26.1", 29.525, 56.833),
    ("kind v0.14.0", 20.986, 46.629),
    ("k3d v5.4.4", 14.700, 33.243),
];

/// Options of `krust-bench start`.
#[derive(Clone, Debug, clap::Args)]
pub struct StartArgs {
    /// The `krust` binary (`cargo build --release -p krust`); default: `krust` beside this
    /// program.
    #[arg(long)]
    pub krust: Option<PathBuf>,
    /// Cold and warm starts timed (each).
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Bound of each pod's wait, seconds.
    #[arg(long, default_value_t = 60)]
    pub max_seconds: u64,
}

pub async fn run(args: StartArgs) -> Result<Verdicts> {
    let krust = crate::pods::krust_binary_at(args.krust.as_ref())?;
    let dir = tempfile::Builder::new().prefix("krt-bench-").tempdir()?;
    let archive = krust_image::testing::busybox_archive(dir.path(), IMAGE);
    let podman = podman::Podman::with_archive(&dir.path().join("podman"), &archive)?;
    let free = || std::net::TcpListener::bind("127.0.0.1:0").map(|l| l.local_addr());
    let local = Local {
        krust,
        home: dir.path().join("home"),
        ports: [free()??.port().to_string(), free()??.port().to_string()],
    };
    let bound = Duration::from_secs(args.max_seconds);
    println!(
        "krust {}; profile {PROFILE}; image {IMAGE} in the store before each start",
        local.krust.display()
    );

    let (mut cold, mut cold_pod, mut warm, mut warm_pod, mut reference) =
        (vec![], vec![], vec![], vec![], vec![]);
    for round in 0..args.rounds {
        local.load_image(&archive)?;
        let (ready, running) = local.start_and_run_a_pod(bound).await?;
        cold.push(ready);
        cold_pod.push(running);
        local.krust(&["stop"])?;
        let (ready, running) = local.start_and_run_a_pod(bound).await?;
        warm.push(ready);
        warm_pod.push(running);
        local.krust(&["delete"])?;
        reference.push(podman.run_detached(IMAGE, &format!("krt-bench-start-{round}"))?);
    }

    // The dashboard's first paint, on a started profile running a Deployment.
    local.load_image(&archive)?;
    local.start()?;
    dashboard::deploy_web(&local.client().await?, IMAGE, bound).await?;
    let page = dashboard::Dashboard::spawn(local.command(&["dashboard", "--url", "--port", "0"]))?;
    let (url, rounds) = (page.url.clone(), args.rounds);
    let (overview, static_page, live) = tokio::task::spawn_blocking(move || {
        let (overview, static_page) = dashboard::paints(&url, PROFILE, rounds)?;
        let live = dashboard::live_updates(&url, PROFILE, rounds)?;
        anyhow::Ok((overview, static_page, live))
    })
    .await??;
    drop(page);
    local.krust(&["delete"])?;
    let millis = |v: Vec<f64>| -> Vec<Duration> {
        v.into_iter()
            .map(|ms| Duration::from_secs_f64(ms / 1000.0))
            .collect()
    };
    let [overview, static_page, live] =
        [millis(overview), millis(static_page), millis(live)].map(|s| Summary::of(&s));

    let [cold, cold_pod, warm, warm_pod, reference] =
        [cold, cold_pod, warm, warm_pod, reference].map(|s| Summary::of(&s));
    println!("\n`krust start` → Ready node, DNS answering (the command's own wait):");
    println!("  cold (fresh profile): {}", cold.line());
    println!("  warm (after stop):    {}", warm.line());
    println!("`krust start` → first pod Running (seen through a watch):");
    println!("  cold: {}", cold_pod.line());
    println!("  warm: {}", warm_pod.line());
    println!("podman run -d of one container: {}", reference.line());
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
    println!(
        "  krust cold start ÷ podman run -d: {:.1}x",
        ratio(cold.p50, reference.p50)
    );
    println!("published (minikube's time-to-k8s, another machine), ÷ krust's cold medians:");
    for (tool, start, total) in PUBLISHED {
        println!(
            "  {tool:<17} start {start:>6.1} s ({:.0}x), to an app Running and DNS {total:>5.1} s ({:.0}x)",
            start / cold.p50.as_secs_f64(),
            total / cold_pod.p50.as_secs_f64()
        );
    }
    println!(
        "`krust dashboard`: navigation → overview painted with the node and a Deployment (a fresh headless Chromium each):"
    );
    println!("  overview:                      {}", overview.line());
    println!(
        "  a static one-table page (loopback): {}",
        static_page.line()
    );
    println!(
        "  overview ÷ static page: {:.1}x",
        ratio(overview.p50, static_page.p50)
    );
    println!(
        "  a scale through the dashboard's API → the overview shows it (live, a watch): {}",
        live.line()
    );
    let mut verdicts = Verdicts::default();
    for (id, what, measured) in [
        ("start.cold-ready", "cold start to a Ready cluster", cold),
        (
            "start.first-pod",
            "cold start to the first pod Running",
            cold_pod,
        ),
        (
            "start.dashboard-paint",
            "the dashboard overview's first meaningful paint",
            overview,
        ),
        (
            "start.dashboard-live",
            "a change on the dashboard's screen after the API took it",
            live,
        ),
    ] {
        verdicts.check(
            id,
            &format!("  {what}, median"),
            measured.p50.as_secs_f64(),
            true,
            &format!(" — {}", ms(measured.p50)),
        );
    }
    Ok(verdicts)
}

/// The benchmark's profile, driven through the `krust` binary as a user drives it.
struct Local {
    krust: PathBuf,
    home: PathBuf,
    /// The API server's and the kubelet's.
    ports: [String; 2],
}

impl Local {
    /// `krust ARGS -p krt-bench-start` with the benchmark's HOME; its stdout.
    fn krust(&self, args: &[&str]) -> Result<String> {
        let out = self
            .command(args)
            .output()
            .with_context(|| format!("running {}", self.krust.display()))?;
        if !out.status.success() {
            bail!(
                "krust {}: {}\n{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The command line `krust ARGS -p krt-bench-start` with the benchmark's HOME.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.krust);
        command
            .args(args)
            .args(["-p", PROFILE])
            .env("HOME", &self.home)
            .env("KUBECONFIG", self.kubeconfig());
        command
    }

    fn kubeconfig(&self) -> PathBuf {
        self.home.join(".kube/config")
    }

    fn data_dir(&self) -> PathBuf {
        self.home.join(".krust/profiles").join(PROFILE)
    }

    /// `krust image load ARCHIVE` into the profile's store (made if new).
    fn load_image(&self, archive: &Path) -> Result<()> {
        crate::pods::server::load_image(&self.krust, &self.data_dir(), archive)
    }

    /// `krust start`, which returns once the cluster is Ready.
    fn start(&self) -> Result<()> {
        self.krust(&[
            "start",
            "--apiserver-port",
            &self.ports[0],
            "--kubelet-port",
            &self.ports[1],
            "--bridge",
            "krt-bstart",
            "--node-name",
            PROFILE,
            "--cluster-cidr",
            "10.41.0.0/24",
            "--service-cidr",
            "10.41.1.0/24",
        ])?;
        Ok(())
    }

    /// A client of the profile's cluster, through the kubeconfig `krust start` wrote.
    async fn client(&self) -> Result<kube::Client> {
        let kubeconfig = Kubeconfig::read_from(self.kubeconfig())?;
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
        Ok(kube::Client::try_from(config)?)
    }

    /// `krust start`, then one pod created and seen Running, then deleted: both times from
    /// the start of the command.
    async fn start_and_run_a_pod(&self, bound: Duration) -> Result<(Duration, Duration)> {
        let t0 = Instant::now();
        self.start()?;
        let ready = t0.elapsed();
        let client = self.client().await?;
        let mut watch = startup::RunningWatch::start(client.clone()).await?;
        startup::create_running(&client, &mut watch, IMAGE, "first", 1, bound).await?;
        let running = t0.elapsed();
        startup::delete_all(&client, bound).await?;
        Ok((ready, running))
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.krust(&["delete"]);
    }
}
