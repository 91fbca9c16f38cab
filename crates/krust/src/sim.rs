//! `krust sim`: simulated nodes against any API server, and the switch that stops one.
//!
//! A sim node stops (its heartbeats cease, as when a machine dies) when its Node gets the
//! annotation `sim.krust.dev/stopped=true`, so tests and people can fail a node with kubectl:
//! `kubectl annotate node sim-node-1 sim.krust.dev/stopped=true`.

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::Node;
use krust_kubelet::sim::{SimNodes, SimOptions};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use std::path::PathBuf;
use std::sync::Arc;

/// The annotation that stops a sim node.
pub const STOPPED: &str = "sim.krust.dev/stopped";

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

/// Starts `count` sim nodes, renewing their leases four times per `grace` period, and the
/// watch that stops annotated ones.
pub async fn start(
    client: Client,
    count: usize,
    grace: std::time::Duration,
) -> anyhow::Result<Arc<SimNodes>> {
    let opts = SimOptions {
        count,
        lease_interval: grace / 4,
        ..SimOptions::default()
    };
    start_with(client, opts).await
}

async fn start_with(client: Client, opts: SimOptions) -> anyhow::Result<Arc<SimNodes>> {
    let nodes = Arc::new(SimNodes::start(client.clone(), opts).await?);
    tokio::spawn(stop_annotated(client, nodes.clone()));
    Ok(nodes)
}

async fn stop_annotated(client: Client, nodes: Arc<SimNodes>) {
    let names = nodes.names();
    let events = watcher(Api::<Node>::all(client), watcher::Config::default()).applied_objects();
    let mut events = std::pin::pin!(events);
    let mut stopped = std::collections::HashSet::new();
    while let Ok(Some(node)) = events.try_next().await {
        let name = node.name_any();
        let wanted = node.annotations().get(STOPPED).is_some_and(|v| v == "true");
        if wanted && names.contains(&name) && stopped.insert(name.clone()) {
            tracing::info!(node = %name, "stopping sim node");
            if let Err(e) = nodes.stop(&name).await {
                tracing::warn!(node = %name, error = %e, "stopping sim node");
            }
        }
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = krust_component::client::from_kubeconfig(&args.kubeconfig).await?;
    let opts = SimOptions {
        count: args.nodes,
        prefix: args.prefix,
        ..SimOptions::default()
    };
    let nodes = start_with(client, opts).await?;
    println!(
        "{} sim nodes running: {}",
        args.nodes,
        nodes.names().join(", ")
    );
    tokio::signal::ctrl_c().await?;
    if let Ok(nodes) = Arc::try_unwrap(nodes) {
        nodes.shutdown().await;
    }
    Ok(())
}
