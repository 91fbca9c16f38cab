//! The krust controller manager: one module per control loop. Every controller is a client of
//! the API (kube-rs watchers, reflectors and `Controller`s); none reaches into another's memory.
#![forbid(unsafe_code)]

pub mod client;
pub mod deployment;
pub mod endpoints;
pub mod endpointslice;
pub mod events;
pub mod garbage_collector;
pub mod leader;
pub mod namespace;
pub mod node_ipam;
pub mod node_lifecycle;
pub mod queue;
pub mod replicaset;
pub mod serviceaccount;
pub mod watch;

use kube::Client;
use std::time::Duration;

/// Settings of the controller manager (kube-controller-manager's flags of the same names).
#[derive(Clone, Debug)]
pub struct Options {
    /// `--node-monitor-grace-period`: silence after which a node is marked not ready.
    pub node_monitor_grace_period: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            node_monitor_grace_period: Duration::from_secs(40),
        }
    }
}

/// Runs every controller with default settings until one fails.
pub async fn run_all(client: Client) -> anyhow::Result<()> {
    run_all_with(client, Options::default()).await
}

/// Runs every controller until one fails.
pub async fn run_all_with(client: Client, opts: Options) -> anyhow::Result<()> {
    let lifecycle = node_lifecycle::Options {
        grace_period: opts.node_monitor_grace_period,
        monitor_period: (opts.node_monitor_grace_period / 8)
            .clamp(Duration::from_millis(200), Duration::from_secs(5)),
        ..node_lifecycle::Options::default()
    };
    tokio::try_join!(
        replicaset::run(client.clone()),
        deployment::run(client.clone()),
        endpoints::run(client.clone()),
        endpointslice::run(client.clone()),
        garbage_collector::run(client.clone()),
        namespace::run(client.clone()),
        node_ipam::run(client.clone()),
        node_lifecycle::run_with(client.clone(), lifecycle),
        serviceaccount::run(client.clone()),
    )?;
    Ok(())
}
