//! The service proxy, kube-proxy's nftables mode (`pkg/proxy/nftables`): every node programs
//! its own table, `ip krust-proxy-<bridge>` (named after the bridge, as the hostPort table, so
//! parallel clusters on one host never share one), from the API's Services and
//! EndpointSlices. `model.rs` reads the objects, `rules.rs` turns them into a [`Ruleset`]
//! (pure), `ruleset.rs` gives the `nft -f` transaction between two rulesets, and the node's
//! table writer (`table.rs`) writes only the difference to what the kernel holds; this file
//! is the proxier that runs it on the host. `health.rs` answers the
//! health check node ports of LoadBalancers with `externalTrafficPolicy: Local`.
//!
//! Network safety: the pod network routes the service range `unreachable` before anything.
//! The proxy adds a more preferred route of the range to the bridge ([`ROUTE_METRIC`]), which
//! the node's own connections to a cluster IP need (a socket finds its route before the
//! `output` hook DNATs the packet); a packet for the range that no rule translates is dropped
//! or rejected by `cluster-ips-check`, and could only reach the bridge anyway: nothing
//! addressed to the service range leaves the host.

mod health;
mod model;
mod rules;
#[cfg(test)]
mod rules_tests;
mod ruleset;

use std::path::PathBuf;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use krust_api::cidr::Cidr;

use crate::cmd;
use crate::error::{Error, Result};
use crate::netns::run_in;
use crate::routes::PROTO;
use crate::table::{self, Table};

pub use crate::table::Synced;
pub use health::{HealthCheck, HealthServer, checks as health_checks};
pub use model::{L4, SERVICE_NAME_LABEL};
pub(crate) use rules::hash;
pub use rules::{Node, build};
pub use ruleset::{Chain, Ruleset, Set};

/// The metric of the proxy's route of the service range to the bridge: ahead of the pod
/// network's `unreachable` route (1071).
pub const ROUTE_METRIC: &str = "1070";

/// The name of the proxy's table for a bridge.
pub fn table_name(bridge: &str) -> String {
    format!("krust-proxy-{bridge}")
}

/// What a node's proxy needs to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyConfig {
    /// The node's pod bridge (its table and route are named after it).
    pub bridge: String,
    /// The Node's name, to tell its endpoints from other nodes'.
    pub node_name: String,
    /// The cluster's pod range.
    pub cluster_cidr: Cidr,
    /// The service range.
    pub service_cidr: Cidr,
    /// The network namespace playing the host (`None`: this process's own), as
    /// [`crate::NetworkConfig::host_netns`].
    pub host_netns: Option<PathBuf>,
}

impl ProxyConfig {
    fn node(&self) -> Node {
        Node {
            table: table_name(&self.bridge),
            name: self.node_name.clone(),
            cluster_cidr: self.cluster_cidr,
            service_cidr: self.service_cidr,
        }
    }

    fn route(&self) -> String {
        format!(
            "{} dev {} proto {PROTO} metric {ROUTE_METRIC}",
            self.service_cidr, self.bridge
        )
    }
}

/// A node's service proxy; clones share it. Dropping it leaves the rules in place (an agent
/// restart keeps traffic flowing); [`ServiceProxy::stop`] removes them.
#[derive(Clone, Debug)]
pub struct ServiceProxy {
    config: Arc<ProxyConfig>,
    table: Table,
}

impl ServiceProxy {
    /// Readies the host for the proxy: the route of the service range to the bridge (which
    /// must exist) and `bridge-nf-call-iptables` (so that replies bridged between two pods
    /// of the node are un-NATed). The table is written by the first [`ServiceProxy::sync`].
    pub async fn start(config: ProxyConfig) -> Result<ServiceProxy> {
        if !crate::config::plain_link_name(&config.bridge) {
            return Err(Error::Config(format!("bridge name {:?}", config.bridge)));
        }
        let route = config.route();
        run_in(config.host_netns.clone(), move || {
            cmd::ip_batch(&[format!("route replace {route}")])?;
            if let Err(e) = cmd::sysctl("bridge/bridge-nf-call-iptables", "1") {
                tracing::warn!(error = %e, "replies between pods of this node through a Service may be lost");
            }
            Ok(())
        })
        .await?;
        let table = Table::new(table_name(&config.bridge), config.host_netns.clone());
        Ok(ServiceProxy {
            config: Arc::new(config),
            table,
        })
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &ProxyConfig {
        &self.config
    }

    /// Programs the rules for `services` and `slices`: only what changed since the last
    /// sync, the whole table the first time or after a failure. UDP flows to endpoints that
    /// went away are forgotten, so their clients reach a live endpoint at once.
    pub async fn sync<'a>(
        &self,
        services: impl IntoIterator<Item = &'a Service>,
        slices: impl IntoIterator<Item = &'a EndpointSlice>,
    ) -> Result<Synced> {
        let slices: Vec<&EndpointSlice> = slices.into_iter().collect();
        let new = rules::build(&self.config.node(), services, &slices);
        self.table
            .write(new, |old, new| {
                let now = rules::udp_endpoints(new);
                let gone: Vec<String> = rules::udp_endpoints(old)
                    .into_iter()
                    .filter(|ip| !now.contains(ip))
                    .collect();
                move || {
                    for ip in &gone {
                        cmd::forget_udp_flows_to(ip);
                    }
                }
            })
            .await
    }

    /// Whether the table is still in the kernel; when someone removed it (`nft flush
    /// ruleset`), the next [`ServiceProxy::sync`] writes it whole again.
    pub async fn check(&self) -> Result<bool> {
        self.table.check().await
    }

    /// Removes the proxy's route and table (the agent stops, `krust killall`).
    pub async fn stop(&self) -> Result<()> {
        remove_route(&self.config).await;
        self.table.delete().await
    }
}

/// Removes the table and route a proxy with `config` made (whether they exist or not).
pub async fn remove(config: &ProxyConfig) -> Result<()> {
    remove_route(config).await;
    table::delete(&table_name(&config.bridge), config.host_netns.clone()).await
}

/// Removes the route of the service range to the bridge (whether it exists or not).
async fn remove_route(config: &ProxyConfig) {
    let route = config.route();
    let _ = run_in(config.host_netns.clone(), move || {
        cmd::ip_batch_forced(&[format!("route del {route}")]);
        Ok(())
    })
    .await;
}
