//! NetworkPolicy enforcement on a node, as the policy engines k3s ships (kube-router's netpol
//! controller) and Calico do it, with nftables: every node programs its own table,
//! `ip krust-policy-<bridge>`, for the pods it runs. `model.rs` computes what the policies
//! mean for those pods (pure), `rules.rs` turns that into a proxy's `Ruleset` (pure), and
//! the node's table writer (`table.rs`) writes the difference to what the kernel holds as
//! one `nft -f` transaction; this file is the enforcer that runs it on the host.
//!
//! Bridged packets between two pods of the node reach the `ip` family's `forward` hook
//! through `bridge-nf-call-iptables`, which the enforcer turns on, as the service proxy does.

mod model;
#[cfg(test)]
mod model_tests;
mod rules;
#[cfg(test)]
mod rules_tests;

use std::path::PathBuf;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;

use crate::cmd;
use crate::error::{Error, Result};
use crate::netns::run_in;
use crate::table::{self, Synced, Table};

pub use model::{Allow, Plan, PortRange, Target, build as plan};
pub use rules::{build as ruleset, table_name};

/// What a node's enforcer needs to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyConfig {
    /// The node's pod bridge (its table is named after it).
    pub bridge: String,
    /// The Node's name: its pods are the ones it isolates.
    pub node_name: String,
    /// The network namespace playing the host (`None`: this process's own), as
    /// [`crate::NetworkConfig::host_netns`].
    pub host_netns: Option<PathBuf>,
}

/// A node's NetworkPolicy enforcer; clones share it. Dropping it leaves the rules in place
/// (an agent restart keeps pods isolated); [`PolicyEnforcer::stop`] removes them.
#[derive(Clone, Debug)]
pub struct PolicyEnforcer {
    config: Arc<PolicyConfig>,
    table: Table,
}

impl PolicyEnforcer {
    /// Readies the host: `bridge-nf-call-iptables`, so that packets bridged between two
    /// pods of the node reach the `forward` hook. The table is written by the first
    /// [`PolicyEnforcer::sync`].
    pub async fn start(config: PolicyConfig) -> Result<PolicyEnforcer> {
        if !crate::config::plain_link_name(&config.bridge) {
            return Err(Error::Config(format!("bridge name {:?}", config.bridge)));
        }
        run_in(config.host_netns.clone(), || {
            if let Err(e) = cmd::sysctl("bridge/bridge-nf-call-iptables", "1") {
                tracing::warn!(error = %e, "traffic between pods of this node escapes NetworkPolicies");
            }
            Ok(())
        })
        .await?;
        let table = Table::new(table_name(&config.bridge), config.host_netns.clone());
        Ok(PolicyEnforcer {
            config: Arc::new(config),
            table,
        })
    }

    /// Programs the rules for `policies` over `pods` (every pod of the cluster: the node's
    /// own are isolated, all are peers) in `namespaces`: only what changed since the last
    /// sync, the whole table the first time or after a failure.
    pub async fn sync<'a>(
        &self,
        policies: impl IntoIterator<Item = &'a NetworkPolicy>,
        pods: impl IntoIterator<Item = &'a Pod>,
        namespaces: impl IntoIterator<Item = &'a Namespace>,
    ) -> Result<Synced> {
        let plan = model::build(&self.config.node_name, policies, pods, namespaces);
        let new = rules::build(&table_name(&self.config.bridge), &plan);
        self.table.write(new, |_, _| || {}).await
    }

    /// Whether the table is still in the kernel; when someone removed it, the next sync
    /// writes it whole again.
    pub async fn check(&self) -> Result<bool> {
        self.table.check().await
    }

    /// Removes the table (the agent stops, `krust killall`).
    pub async fn stop(&self) -> Result<()> {
        self.table.delete().await
    }
}

/// Removes the table an enforcer on `bridge` made (whether it exists or not).
pub async fn remove(bridge: &str, host_netns: Option<PathBuf>) -> Result<()> {
    table::delete(&table_name(bridge), host_netns).await
}
