//! The service proxy, kube-proxy's nftables mode (`pkg/proxy/nftables`): every node programs
//! its own table, `ip krust-proxy-<bridge>` (named after the bridge, as the hostPort table, so
//! parallel clusters on one host never share one), from the API's Services and
//! EndpointSlices. `model.rs` reads the objects, `rules.rs` turns them into a [`Ruleset`]
//! (pure), `ruleset.rs` writes the difference to what the kernel holds as one `nft -f`
//! transaction; this file is the proxier that runs it on the host. `health.rs` answers the
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
use tokio::sync::Mutex;

use crate::cmd;
use crate::error::{Error, Result};
use crate::netns::run_in;
use crate::routes::PROTO;

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

/// What a sync did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Synced {
    /// Whether the whole table was written (the first sync, or after a failed partial one).
    pub full: bool,
    /// Lines of the transaction (0: nothing had changed).
    pub lines: usize,
}

/// A node's service proxy; clones share it. Dropping it leaves the rules in place (an agent
/// restart keeps traffic flowing); [`ServiceProxy::stop`] removes them.
#[derive(Clone, Debug)]
pub struct ServiceProxy {
    config: Arc<ProxyConfig>,
    /// What the kernel holds, as last written; `None` until the first full sync.
    applied: Arc<Mutex<Option<Ruleset>>>,
    /// Held by the thread that runs `nft`, so that a write whose caller was cancelled
    /// (the agent stopping) ends before [`ServiceProxy::stop`] removes the table.
    kernel: Arc<std::sync::Mutex<()>>,
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
        Ok(ServiceProxy {
            config: Arc::new(config),
            applied: Arc::new(Mutex::new(None)),
            kernel: Default::default(),
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
        let mut applied = self.applied.lock().await;
        let (script, full) = match applied.as_ref() {
            Some(old) => (old.diff(&new), false),
            None => (new.full(), true),
        };
        if script.is_empty() {
            return Ok(Synced::default());
        }
        let gone_udp: Vec<String> = match applied.as_ref() {
            Some(old) => {
                let now = rules::udp_endpoints(&new);
                rules::udp_endpoints(old)
                    .into_iter()
                    .filter(|ip| !now.contains(ip))
                    .collect()
            }
            None => Vec::new(),
        };
        let lines = script.lines().count();
        let mut result = self.run(script, gone_udp.clone()).await;
        if let (Err(e), false) = (&result, full) {
            tracing::warn!(error = %e, "a partial sync failed; writing the whole table");
            result = self.run(new.full(), Vec::new()).await;
        }
        match result {
            Ok(()) => {
                *applied = Some(new);
                Ok(Synced { full, lines })
            }
            Err(e) => {
                *applied = None;
                Err(e)
            }
        }
    }

    /// Whether the table is still in the kernel; when someone removed it (`nft flush
    /// ruleset`), the next [`ServiceProxy::sync`] writes it whole again.
    pub async fn check(&self) -> Result<bool> {
        let table = table_name(&self.config.bridge);
        let listed = run_in(self.config.host_netns.clone(), cmd::nft_list_tables).await?;
        let present = listed
            .lines()
            .any(|l| l.trim() == format!("table ip {table}"));
        if !present {
            *self.applied.lock().await = None;
        }
        Ok(present)
    }

    /// Runs one transaction in the host's namespace, then forgets the UDP flows to `gone`.
    async fn run(&self, script: String, gone: Vec<String>) -> Result<()> {
        let kernel = self.kernel.clone();
        run_in(self.config.host_netns.clone(), move || {
            let _kernel = kernel.lock().unwrap_or_else(|e| e.into_inner());
            cmd::nft(&script)?;
            for ip in &gone {
                cmd::forget_udp_flows_to(ip);
            }
            Ok(())
        })
        .await
    }

    /// Removes the proxy's table and route (the agent stops, `krust killall`).
    pub async fn stop(&self) -> Result<()> {
        let mut applied = self.applied.lock().await;
        remove_holding(&self.config, Some(self.kernel.clone())).await?;
        *applied = None;
        Ok(())
    }
}

/// Removes the table and route a proxy with `config` made (whether they exist or not).
pub async fn remove(config: &ProxyConfig) -> Result<()> {
    remove_holding(config, None).await
}

/// [`remove`], once the writing thread holding `kernel` (if any) is done.
async fn remove_holding(
    config: &ProxyConfig,
    kernel: Option<Arc<std::sync::Mutex<()>>>,
) -> Result<()> {
    let (table, route) = (table_name(&config.bridge), config.route());
    run_in(config.host_netns.clone(), move || {
        let _kernel = kernel
            .as_ref()
            .map(|k| k.lock().unwrap_or_else(|e| e.into_inner()));
        cmd::ip_batch_forced(&[format!("route del {route}")]);
        cmd::nft(&Ruleset::delete(&table))
    })
    .await
}
