//! `krust-bench`: run one benchmark, print its table and judge it against the targets of
//! `SPECIFICATION.md`: exit status 0 when every target it checks is met, 2 when one is not,
//! 1 on an error.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The allocator of the `krust` binary, so that the cluster benchmarks measure what it runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "krust benchmarks, printed as ratios against reference runs")]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Write and watch throughput: krust's SQLite store against a real etcd.
    Store(krust_bench::store::StoreArgs),
    /// Scheduling throughput and latency: pods created through the API onto many nodes.
    Scheduler(krust_bench::scheduler::SchedulerArgs),
    /// A large Deployment created and rolled on sim nodes: time to Running, to rollout
    /// complete, peak memory.
    Churn(krust_bench::churn::ChurnArgs),
    /// The scheduling algorithm alone, without the API: pods/s through the cache, filters,
    /// scores and assume.
    Algorithm(krust_bench::algorithm::AlgorithmArgs),
    /// The real node: container start→exit, pod startup and memory, against runc and
    /// podman in the same run.
    Pods(krust_bench::pods::PodsArgs),
    /// The service proxy and cluster DNS on the real node: endpoint change → traffic
    /// follows, among many Services; ClusterIP against direct pod-IP throughput, and the
    /// DNS server's queries/s and latency against an echo server, in the same run.
    Network(krust_bench::network::NetworkArgs),
    /// The local cluster: `krust start` to a Ready node with DNS, cold and warm, and to the
    /// first pod Running; beside podman and minikube's published figures.
    Start(krust_bench::start::StartArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The control loops' own logs (warnings and errors unless KRUST_LOG says otherwise).
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("KRUST_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let bench = async {
        match cli.bench {
            Bench::Store(args) => krust_bench::store::run(args).await,
            Bench::Scheduler(args) => krust_bench::scheduler::run(args).await,
            Bench::Churn(args) => krust_bench::churn::run(args).await,
            Bench::Algorithm(args) => krust_bench::algorithm::run(args).await,
            Bench::Pods(args) => krust_bench::pods::run(args).await,
            Bench::Network(args) => krust_bench::network::run(args).await,
            Bench::Start(args) => krust_bench::start::run(args).await,
        }
    };
    // On Ctrl-C the benchmark is dropped, which stops the processes it started.
    let result = tokio::select! {
        result = bench => result,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    match result {
        Ok(verdicts) if verdicts.missed().is_empty() => ExitCode::SUCCESS,
        Ok(verdicts) => {
            eprintln!("targets not met: {}", verdicts.missed().join(", "));
            ExitCode::from(2)
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
