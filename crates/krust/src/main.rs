//! `krust`: the whole cluster in one binary.
#![forbid(unsafe_code)]

mod agent;
mod build_executor;
mod dashboard;
mod image;
mod join;
mod local;
mod node_flags;
mod server;
mod sim;
mod token;

use clap::{Parser, Subcommand};

/// mimalloc: the API server allocates per request and per watch event; glibc's malloc spent
/// a quarter of the CPU of `krust-bench scheduler`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// krust: a small Kubernetes-compatible cluster.
#[derive(Parser)]
#[command(name = "krust", version, about)]
struct Cli {
    /// Log lines as JSON objects instead of text.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    Local(local::Command),
    /// Serves a web dashboard of the local cluster on 127.0.0.1 and prints its URL (as
    /// `minikube dashboard`).
    Dashboard(dashboard::Args),
    /// Runs the control plane: API server and store, scheduler, controllers.
    Server(server::Args),
    /// Joins this host to a cluster as a node (as `k3s agent`, `kubeadm join`).
    Agent(agent::Args),
    /// Manages the bootstrap tokens nodes join with.
    Token(token::Args),
    /// Runs simulated nodes against a cluster.
    Sim(sim::Args),
    /// Loads, lists and removes the node's images.
    Image(image::Args),
    /// Stops and removes every container of the node at --data-dir and its pod network
    /// (as k3s-killall.sh): for uninstalling and for tests. Images, logs and the store stay.
    Killall {
        #[arg(long, default_value = "/var/lib/krust")]
        data_dir: std::path::PathBuf,
    },
}

/// Waits for Ctrl-C or SIGTERM (how an operator or a supervisor stops krust), so that the
/// subcommand can stop cleanly: sim nodes remove the routes they added.
async fn stop_requested() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = terminate.recv() => {}
    }
    tracing::info!("stopping");
    Ok(())
}

/// How the runtime starts a container's monitor: this binary, `krust monitor`.
fn monitor_argv() -> anyhow::Result<Vec<std::ffi::OsString>> {
    let exe = std::env::current_exe()?;
    Ok(vec![exe.into(), "monitor".into()])
}

fn main() -> anyhow::Result<()> {
    // The monitor (`krust monitor`, started by the node's runtime, not by people) first,
    // before any thread exists (it forks and waits for its container) and before the whole
    // command line's parser is built: it is on every container's start path, and what it
    // allocates or touches stays in each container's memory.
    let mut args = std::env::args_os();
    if args.nth(1).is_some_and(|a| a == "monitor") {
        let args: Vec<std::ffi::OsString> = args.collect();
        std::process::exit(krust_runtime::monitor_main(&args));
    }
    command_line()
}

/// Every command but the monitor. A function of its own, never inlined into `main`: its
/// stack frame holds the commands' futures (tens of KiB, each page probed on entry), which
/// every monitor would otherwise touch and keep.
#[inline(never)]
fn command_line() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Commands that run without a Tokio runtime.
    let command = match cli.command {
        Command::Image(args) => image::main(args),
        Command::Server(args) if args.detached => {
            // `krust start`'s server: a session of its own, out of reach of the terminal.
            rustix::process::setsid()?;
            Command::Server(args)
        }
        command => command,
    };
    // The local-cluster commands talk to people: only the libraries' warnings (and none from
    // the API client while `krust start` waits for the server to listen).
    let default = match command {
        Command::Local(_) | Command::Dashboard(_) => "warn,kube_client=off",
        _ => "info",
    };
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("KRUST_LOG").unwrap_or_else(|_| default.into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cli.log_json {
        logs.json().init();
    } else {
        logs.init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match command {
            Command::Server(args) => server::run(args).await,
            Command::Sim(args) => sim::run(args).await,
            Command::Agent(args) => agent::run(args).await,
            Command::Token(args) => token::run(args).await,
            Command::Killall { data_dir } => krust_kubelet::node::reset(&data_dir).await,
            Command::Local(command) => std::process::exit(local::run(command).await),
            Command::Dashboard(args) => std::process::exit(dashboard::main(args).await),
            Command::Image(_) => unreachable!("run above"),
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
