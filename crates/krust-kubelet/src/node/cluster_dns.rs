//! The node's cluster DNS server (`krust-dns`), in place of the CoreDNS pods a kubeadm or k3s
//! cluster runs: once the pod network is up, it serves on the bridge's gateway address, port
//! 53 (UDP and TCP), forwards other names to the host's resolvers (`/etc/resolv.conf`), and
//! names itself in the `kube-dns` Service's EndpointSlice `kube-dns-<node>`, withdrawn when
//! the agent stops.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use krust_dns::{NodeDns, Upstreams, kube_dns};

use super::Shared;

/// The DNS port.
const PORT: u16 = 53;
/// How often the node checks that its kube-dns endpoint is still there.
const REPUBLISH: Duration = Duration::from_secs(10);

/// Serves DNS on the gateway until aborted.
pub async fn serve(shared: Arc<Shared>) {
    let gateway: IpAddr = match shared.network().await {
        Ok(network) => network.config().gateway().into(),
        Err(e) => {
            tracing::error!(error = %e, "no pod network: no cluster DNS on this node");
            return;
        }
    };
    let upstreams = Upstreams::from_resolv_conf(&shared.opts.resolv_conf, &[gateway]);
    let addr = SocketAddr::new(gateway, PORT);
    let _dns = loop {
        match NodeDns::start(shared.client.clone(), addr, upstreams.clone()).await {
            Ok(dns) => break dns,
            Err(e) => {
                tracing::warn!(%addr, error = %e, "starting the cluster DNS server; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    };
    tracing::info!(%addr, "cluster DNS serving");
    // Published, and published again should it be deleted or changed.
    loop {
        let delay = match kube_dns::published(&shared.client, &shared.name).await {
            Ok(Some(ip)) if ip == gateway => REPUBLISH,
            _ => match kube_dns::publish(&shared.client, &shared.name, gateway).await {
                Ok(()) => REPUBLISH,
                Err(e) => {
                    tracing::warn!(error = %e, "publishing the node's kube-dns endpoint; retrying");
                    Duration::from_secs(1)
                }
            },
        };
        tokio::time::sleep(delay).await;
    }
}

/// Removes the node's kube-dns endpoint (the agent stops).
pub async fn withdraw(shared: &Shared) {
    let withdraw = kube_dns::withdraw(&shared.client, &shared.name);
    match tokio::time::timeout(Duration::from_secs(5), withdraw).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "withdrawing the node's kube-dns endpoint"),
        Err(_) => tracing::warn!("withdrawing the node's kube-dns endpoint timed out"),
    }
}
