//! The node's NetworkPolicy controller, as kube-router's netpol controller runs in every k3s
//! agent: watches of every NetworkPolicy, Pod and Namespace (the node's own pods are the
//! ones it isolates; every pod's labels and address make the peers) feed
//! `krust_net::policy`, which programs this node's `krust-policy-<bridge>` table. Nothing is
//! programmed before the three first lists are in; after that every change is programmed
//! at once, changes arriving together in one transaction. A failed sync is retried after a
//! second; a table someone removed is written again within `CHECK_PERIOD`. The table is
//! removed when the agent stops (`agent.rs`) and by `krust killall` (`reset.rs`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use krust_net::policy::{PolicyConfig, PolicyEnforcer};
use kube::api::Api;

use super::Shared;
use super::proxy::Cache;
use super::watch::watch;

/// How often the controller checks that its table is still there.
const CHECK_PERIOD: Duration = Duration::from_secs(30);

/// Runs the controller once the pod network is up.
pub async fn run(shared: Arc<Shared>) {
    let bridge = match shared.network().await {
        Ok(n) => n.config().bridge.clone(),
        Err(e) => {
            tracing::error!(error = %e, "no pod network: no network policies");
            return;
        }
    };
    let config = PolicyConfig {
        bridge,
        node_name: shared.name.clone(),
        host_netns: None,
    };
    let enforcer = loop {
        match PolicyEnforcer::start(config.clone()).await {
            Ok(e) => break e,
            Err(e) => {
                tracing::error!(error = %e, "starting the network policy controller");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    };
    let _ = shared.policies.set(enforcer.clone());
    let client = &shared.client;
    let mut policies = watch(
        Api::<NetworkPolicy>::all(client.clone()),
        Default::default(),
    );
    let mut pods = watch(Api::<Pod>::all(client.clone()), Default::default());
    let mut namespaces = watch(Api::<Namespace>::all(client.clone()), Default::default());
    let mut policy_cache = Cache::<NetworkPolicy>::new();
    let mut pod_cache = Cache::<Pod>::new();
    let mut ns_cache = Cache::<Namespace>::new();
    let mut dirty = false;
    let mut retry: Option<tokio::time::Instant> = None;
    let mut check = tokio::time::interval(CHECK_PERIOD);
    loop {
        let wake = retry.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            e = policies.next() => match e {
                Some(Ok(e)) => dirty |= policy_cache.take(e),
                Some(Err(e)) => tracing::debug!(error = %e, "watching network policies"),
                None => return,
            },
            e = pods.next() => match e {
                Some(Ok(e)) => dirty |= pod_cache.take(e),
                Some(Err(e)) => tracing::debug!(error = %e, "watching pods"),
                None => return,
            },
            e = namespaces.next() => match e {
                Some(Ok(e)) => dirty |= ns_cache.take(e),
                Some(Err(e)) => tracing::debug!(error = %e, "watching namespaces"),
                None => return,
            },
            _ = tokio::time::sleep_until(wake) => { retry = None; dirty = true; }
            _ = check.tick() => {
                if matches!(enforcer.check().await, Ok(false)) && policy_cache.listed {
                    tracing::warn!("the network policy rules were removed by someone else; writing them again");
                    dirty = true;
                }
            }
        }
        // Whatever else has arrived goes into the same transaction.
        loop {
            if let Some(Some(Ok(e))) = policies.next().now_or_never() {
                dirty |= policy_cache.take(e);
            } else if let Some(Some(Ok(e))) = pods.next().now_or_never() {
                dirty |= pod_cache.take(e);
            } else if let Some(Some(Ok(e))) = namespaces.next().now_or_never() {
                dirty |= ns_cache.take(e);
            } else {
                break;
            }
        }
        let listed = policy_cache.listed && pod_cache.listed && ns_cache.listed;
        if !dirty || !listed || retry.is_some() {
            continue;
        }
        dirty = false;
        let start = Instant::now();
        match enforcer
            .sync(
                policy_cache.objects.values(),
                pod_cache.objects.values(),
                ns_cache.objects.values(),
            )
            .await
        {
            Ok(s) if s.lines > 0 => tracing::debug!(
                full = s.full,
                lines = s.lines,
                policies = policy_cache.objects.len(),
                took = ?start.elapsed(),
                "network policy rules programmed"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "programming the network policy rules; retrying in a second");
                retry = Some(tokio::time::Instant::now() + Duration::from_secs(1));
            }
        }
    }
}
