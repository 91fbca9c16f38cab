//! The pod network between nodes, flannel's part of a k3s agent: once the node's own pod
//! network is up, this node announces what its peers need (its mode and, in VXLAN mode,
//! its VTEP MAC, as Node annotations, as flannel's `backend-type` and `backend-data`), then
//! a watch of every Node (as flannel's subnet watcher over Node objects) feeds
//! `krust_net::peers`, which programs the routes, neighbours and FDB entries of the other
//! nodes. Nodes that announce no mode (sim nodes) or another mode are no peers. A change of
//! the peers is programmed at once; a failed sync is retried with a back-off; every
//! `CHECK_PERIOD` the kernel is compared again, so entries someone removed come back.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use krust_net::peers::{
    MODE_ANNOTATION, Mode, Peer, PeerNetwork, PeersConfig, VTEP_MAC_ANNOTATION,
};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher;
use serde_json::json;

use super::Shared;
use super::watch::watch;

/// How often the kernel's entries are compared with the peers.
const CHECK_PERIOD: Duration = Duration::from_secs(30);

/// The peers of node `me` in `mode` among `nodes`: every other node announcing the same
/// mode, with an IPv4 InternalIP and a podCIDR.
pub fn peers_of<'a>(nodes: impl IntoIterator<Item = &'a Node>, me: &str, mode: Mode) -> Vec<Peer> {
    nodes
        .into_iter()
        .filter_map(|node| {
            let name = node.metadata.name.as_deref()?;
            let annotations = node.metadata.annotations.as_ref()?;
            if name == me || annotations.get(MODE_ANNOTATION)? != mode.as_str() {
                return None;
            }
            let ip: Ipv4Addr = node
                .status
                .as_ref()?
                .addresses
                .iter()
                .flatten()
                .find(|a| a.type_ == "InternalIP")?
                .address
                .parse()
                .ok()?;
            let pod_cidr = node.spec.as_ref()?.pod_cidr.as_deref()?.parse().ok()?;
            Some(Peer {
                name: name.to_string(),
                ip,
                pod_cidr,
                vtep_mac: annotations.get(VTEP_MAC_ANNOTATION).cloned(),
            })
        })
        .collect()
}

/// Runs the pod network between nodes once the node's own is up.
pub async fn run(shared: Arc<Shared>) {
    let network = match shared.network().await {
        Ok(n) => n.config().clone(),
        Err(e) => {
            tracing::error!(error = %e, "no pod network: no routes to other nodes");
            return;
        }
    };
    let IpAddr::V4(node_ip) = shared.opts.address else {
        tracing::error!(address = %shared.opts.address, "no IPv4 node address: no routes to other nodes");
        return;
    };
    let mode = shared.opts.pod_network;
    let config = PeersConfig {
        mode,
        bridge: network.bridge.clone(),
        node_ip,
        pod_cidr: network.pod_cidr,
        cluster_cidr: network.cluster_cidr,
        mtu: network.mtu,
        host_netns: None,
    };
    let peers = loop {
        match PeerNetwork::start(config.clone()).await {
            Ok(p) => break p,
            Err(e) => {
                tracing::error!(error = %e, "starting the pod network between nodes");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    };
    let _ = shared.peers.set(peers.clone());
    while let Err(e) = announce(&shared, &config).await {
        tracing::warn!(error = %e, "annotating the node for its peers");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let api: Api<Node> = Api::all(shared.client.clone());
    let mut nodes = watch(api, watcher::Config::default());
    let mut known: BTreeMap<String, Node> = BTreeMap::new();
    let mut listing: Option<BTreeMap<String, Node>> = None;
    let mut listed = false;
    let mut programmed: Option<Vec<Peer>> = None;
    let mut backoff = Duration::from_secs(1);
    let mut retry: Option<tokio::time::Instant> = None;
    let mut check = tokio::time::interval(CHECK_PERIOD);
    loop {
        let far = tokio::time::Instant::now() + Duration::from_secs(3600);
        let mut force = false;
        tokio::select! {
            e = nodes.next() => match e {
                Some(Ok(watcher::Event::Init)) => listing = Some(BTreeMap::new()),
                Some(Ok(watcher::Event::InitApply(n))) => {
                    if let Some(l) = &mut listing {
                        l.insert(n.metadata.name.clone().unwrap_or_default(), n);
                    }
                }
                Some(Ok(watcher::Event::InitDone)) => {
                    known = listing.take().unwrap_or_default();
                    listed = true;
                }
                Some(Ok(watcher::Event::Apply(n))) => {
                    known.insert(n.metadata.name.clone().unwrap_or_default(), n);
                }
                Some(Ok(watcher::Event::Delete(n))) => {
                    known.remove(n.metadata.name.as_deref().unwrap_or_default());
                }
                Some(Err(e)) => tracing::debug!(error = %e, "watching nodes"),
                None => return,
            },
            _ = tokio::time::sleep_until(retry.unwrap_or(far)) => { retry = None; force = true; }
            _ = check.tick() => force = true,
        }
        if retry.is_some() || !listed {
            continue;
        }
        let wanted = peers_of(known.values(), &shared.name, mode);
        if !force && programmed.as_ref() == Some(&wanted) {
            continue;
        }
        match peers.sync(&wanted).await {
            Ok(s) => {
                if s.added + s.removed > 0 {
                    tracing::info!(peers = wanted.len(), added = s.added, removed = s.removed, %mode, "pod network between nodes programmed");
                }
                programmed = Some(wanted);
                backoff = Duration::from_secs(1);
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "programming the routes to other nodes' pods");
                programmed = None;
                retry = Some(tokio::time::Instant::now() + backoff);
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
    }
}

/// Annotates the node with its mode and VTEP MAC (removed in routes mode).
async fn announce(shared: &Shared, config: &PeersConfig) -> kube::Result<()> {
    let api: Api<Node> = Api::all(shared.client.clone());
    let patch = json!({"metadata": {"annotations": {
        MODE_ANNOTATION: config.mode.as_str(),
        VTEP_MAC_ANNOTATION: config.vtep_mac(),
    }}});
    api.patch(&shared.name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, annotations: serde_json::Value, ip: &str, cidr: Option<&str>) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"podCIDR": cidr},
            "status": {"addresses": [
                {"type": "Hostname", "address": name},
                {"type": "InternalIP", "address": ip},
            ]},
        }))
        .unwrap()
    }

    #[test]
    fn peers_are_the_other_nodes_announcing_the_same_mode_with_an_address_and_a_range() {
        let vx = json!({MODE_ANNOTATION: "vxlan", VTEP_MAC_ANNOTATION: "0a:58:0a:2a:01:00"});
        let nodes = [
            node("me", vx.clone(), "192.0.2.1", Some("10.42.0.0/24")),
            node("b", vx.clone(), "192.0.2.2", Some("10.42.1.0/24")),
            node("no-range-yet", vx.clone(), "192.0.2.3", None),
            node("v6", vx.clone(), "2001:db8::1", Some("10.42.3.0/24")),
            node(
                "routes",
                json!({MODE_ANNOTATION: "routes"}),
                "192.0.2.5",
                Some("10.42.4.0/24"),
            ),
            node("sim-node-0", json!({}), "127.31.0.1", Some("10.42.5.0/24")),
        ];
        let peers = peers_of(&nodes, "me", Mode::Vxlan);
        assert_eq!(
            peers,
            [Peer {
                name: "b".into(),
                ip: "192.0.2.2".parse().unwrap(),
                pod_cidr: "10.42.1.0/24".parse().unwrap(),
                vtep_mac: Some("0a:58:0a:2a:01:00".into()),
            }]
        );
        let routes = peers_of(&nodes, "me", Mode::Routes);
        assert_eq!(routes.len(), 1);
        assert_eq!(
            (routes[0].name.as_str(), routes[0].vtep_mac.as_deref()),
            ("routes", None)
        );
    }
}
