//! The node's service proxy, kube-proxy's part of a k3s agent: watches of every Service and
//! EndpointSlice (informers, as kube-proxy's `ServiceConfig` and `EndpointSliceConfig`) feed
//! `krust_net::proxy`, which programs this node's nftables table. Nothing is programmed
//! before both first lists are in (a restarted agent never writes a table without the
//! Services it had); after that, every change is programmed at once, changes arriving
//! together in one transaction. A failed sync is retried after a second; a table someone
//! removed is written again within `CHECK_PERIOD`. LoadBalancer
//! Services get this node's address (`service_lb.rs`); those with `externalTrafficPolicy:
//! Local` get their health check node port answered after each sync
//! (`krust_net::proxy::HealthServer`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use krust_net::proxy::{HealthServer, ProxyConfig, ServiceProxy, health_checks};
use kube::api::Api;
use kube::runtime::watcher;

use super::watch::watch;
use super::{Shared, service_lb};

/// How often the proxy checks that its table is still there (kube-proxy: a full resync
/// every hour).
const CHECK_PERIOD: Duration = Duration::from_secs(30);

/// The objects of one kind as last seen, by `namespace/name`, from a watch (the network
/// policy controller keeps its objects in it too).
pub(super) struct Cache<K> {
    pub(super) objects: BTreeMap<String, K>,
    listing: Option<Vec<K>>,
    /// Whether the first list is in.
    pub(super) listed: bool,
}

impl<K: kube::Resource + PartialEq> Cache<K> {
    pub(super) fn new() -> Self {
        Cache {
            objects: BTreeMap::new(),
            listing: None,
            listed: false,
        }
    }

    fn key(k: &K) -> String {
        let m = k.meta();
        format!(
            "{}/{}",
            m.namespace.as_deref().unwrap_or(""),
            m.name.as_deref().unwrap_or("")
        )
    }

    /// Takes a watch event; whether the cache changed.
    pub(super) fn take(&mut self, event: watcher::Event<K>) -> bool {
        match event {
            watcher::Event::Init => {
                self.listing = Some(Vec::new());
                false
            }
            watcher::Event::InitApply(k) => {
                if let Some(l) = &mut self.listing {
                    l.push(k);
                }
                false
            }
            watcher::Event::InitDone => {
                let listed = self.listing.take().unwrap_or_default();
                self.objects = listed.into_iter().map(|k| (Self::key(&k), k)).collect();
                self.listed = true;
                true
            }
            watcher::Event::Apply(k) => {
                let key = Self::key(&k);
                if self.objects.get(&key) == Some(&k) {
                    return false;
                }
                self.objects.insert(key, k);
                true
            }
            watcher::Event::Delete(k) => {
                self.objects.remove(&Self::key(&k));
                true
            }
        }
    }
}

/// Runs the proxy once the pod network is up (it routes the service range to the bridge).
pub async fn run(shared: Arc<Shared>) {
    let network = match shared.network().await {
        Ok(n) => n.config().clone(),
        Err(e) => {
            tracing::error!(error = %e, "no pod network: no service proxy");
            return;
        }
    };
    let config = ProxyConfig {
        bridge: network.bridge.clone(),
        node_name: shared.name.clone(),
        cluster_cidr: network.cluster_cidr,
        service_cidr: network.service_cidr,
        host_netns: None,
    };
    let proxy = loop {
        match ServiceProxy::start(config.clone()).await {
            Ok(p) => break p,
            Err(e) => {
                tracing::error!(error = %e, "starting the service proxy");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    };
    let _ = shared.proxy.set(proxy.clone());
    let services: Api<Service> = Api::all(shared.client.clone());
    let slices: Api<EndpointSlice> = Api::all(shared.client.clone());
    let mut services = watch(services, watcher::Config::default());
    let mut slices = watch(slices, watcher::Config::default());
    let (mut svc_cache, mut slice_cache) = (Cache::<Service>::new(), Cache::<EndpointSlice>::new());
    let mut dirty = false;
    let mut retry: Option<tokio::time::Instant> = None;
    let mut check = tokio::time::interval(CHECK_PERIOD);
    // The health check node ports, closed when the proxy stops (this task ends).
    let mut health = HealthServer::new(None);
    loop {
        let wake = retry.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            e = services.next() => match e {
                Some(Ok(e)) => dirty |= svc_cache.take(e),
                Some(Err(e)) => tracing::debug!(error = %e, "watching services"),
                None => return,
            },
            e = slices.next() => match e {
                Some(Ok(e)) => dirty |= slice_cache.take(e),
                Some(Err(e)) => tracing::debug!(error = %e, "watching endpointslices"),
                None => return,
            },
            _ = tokio::time::sleep_until(wake) => { retry = None; dirty = true; }
            _ = check.tick() => {
                if matches!(proxy.check().await, Ok(false)) && svc_cache.listed {
                    tracing::warn!("the service rules were removed by someone else; writing them again");
                    dirty = true;
                }
            }
        }
        // Whatever else has arrived goes into the same transaction.
        loop {
            if let Some(Some(Ok(e))) = services.next().now_or_never() {
                dirty |= svc_cache.take(e);
            } else if let Some(Some(Ok(e))) = slices.next().now_or_never() {
                dirty |= slice_cache.take(e);
            } else {
                break;
            }
        }
        if !dirty || !svc_cache.listed || !slice_cache.listed || retry.is_some() {
            continue;
        }
        dirty = false;
        service_lb::ensure(&shared, svc_cache.objects.values());
        let start = Instant::now();
        let synced = proxy
            .sync(svc_cache.objects.values(), slice_cache.objects.values())
            .await;
        let slices: Vec<&EndpointSlice> = slice_cache.objects.values().collect();
        let checks = health_checks(svc_cache.objects.values(), &slices, &shared.name);
        for (check, port, e) in health.sync(checks, synced.is_ok()).await {
            let service = format!("{}/{}", check.namespace, check.name);
            tracing::warn!(%service, port, error = %e, "opening a service health check");
            shared.events.service_warning(
                &check.namespace,
                &check.name,
                &shared.name,
                "FailedToStartServiceHealthcheck",
                format!(
                    "node {} failed to start healthcheck {service:?} on port {port}: {e}",
                    shared.name
                ),
            );
        }
        match synced {
            Ok(s) if s.full => tracing::info!(
                services = svc_cache.objects.len(),
                endpoint_slices = slice_cache.objects.len(),
                took = ?start.elapsed(),
                "service rules written"
            ),
            Ok(s) if s.lines > 0 => tracing::debug!(
                full = s.full,
                lines = s.lines,
                took = ?start.elapsed(),
                "service rules programmed"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "programming the service rules; retrying in a second");
                retry = Some(tokio::time::Instant::now() + Duration::from_secs(1));
            }
        }
    }
}
