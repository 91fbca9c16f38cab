//! `krust sim`: simulated nodes against any API server (krust-kubelet's `sim`; annotating a
//! Node `sim.krust.dev/stopped=true` stops that node).

use krust_kubelet::sim::{SimNodes, SimOptions};
use kube::Client;
use std::path::PathBuf;

/// Options of `krust sim`.
#[derive(clap::Args)]
pub struct Args {
    /// The kubeconfig of the cluster to join.
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: PathBuf,
    /// How many nodes to simulate.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Node name prefix (`<prefix>-0`, `<prefix>-1`, …).
    #[arg(long, default_value = "sim-node")]
    prefix: String,
}

/// Starts `count` sim nodes whose leases renew often enough for the node monitor `grace`
/// period.
pub async fn start(
    client: Client,
    count: usize,
    grace: std::time::Duration,
) -> anyhow::Result<SimNodes> {
    let opts = SimOptions {
        count,
        lease_interval: SimOptions::lease_interval_for(grace),
        ..SimOptions::default()
    };
    SimNodes::start(client, opts).await
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = krust_component::client::from_kubeconfig(&args.kubeconfig).await?;
    let opts = SimOptions {
        count: args.nodes,
        prefix: args.prefix,
        ..SimOptions::default()
    };
    let nodes = SimNodes::start(client, opts).await?;
    println!(
        "{} sim nodes running: {}",
        args.nodes,
        nodes.names().join(", ")
    );
    crate::stop_requested().await?;
    nodes.shutdown().await;
    Ok(())
}
