//! Undoing a node on this host (what k3s' `k3s-killall.sh` does): every sandbox and its
//! containers stopped and removed, the pod network (bridge, routes, hostPort rules) torn
//! down, the service proxy's table and route and the network policy table removed, and so are
//! the routes, VXLAN device, neighbour and FDB entries of the pod network between nodes
//! (`krust_net::peers`). The node writes what it set up to
//! `<data dir>/node.json` ([`record`]), so [`reset`] needs nothing but the data dir. Images
//! and logs stay.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use krust_api::cidr::Cidr;
use krust_net::peers::{Mode, PeersConfig};
use krust_net::{NetworkConfig, PodNetwork};
use krust_runtime::{Runtime, RuntimeConfig};
use serde::{Deserialize, Serialize};

use super::NodeOptions;

/// What a node set up on the host.
#[derive(Debug, Serialize, Deserialize)]
struct Installed {
    bridge: String,
    pod_cidr: Option<String>,
    cluster_cidr: String,
    service_cidr: String,
    cgroup_root: String,
    monitor: Vec<OsString>,
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("node.json")
}

/// Writes what the node sets up (before it sets it up); without a pod CIDR, the one
/// recorded before is kept.
pub fn record(opts: &NodeOptions, pod_cidr: Option<Cidr>) -> anyhow::Result<()> {
    let file = path(&opts.data_dir);
    let before = std::fs::read(&file)
        .ok()
        .and_then(|t| serde_json::from_slice::<Installed>(&t).ok())
        .and_then(|i| i.pod_cidr);
    let installed = Installed {
        bridge: opts.bridge.clone(),
        pod_cidr: pod_cidr.map(|c| c.to_string()).or(before),
        cluster_cidr: opts.cluster_cidr.to_string(),
        service_cidr: opts.service_cidr.to_string(),
        cgroup_root: opts.cgroup_root.clone(),
        monitor: opts.monitor.clone(),
    };
    let tmp = file.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&installed)?)?;
    std::fs::rename(&tmp, &file)?;
    Ok(())
}

fn runtime_config(data_dir: &Path, installed: &Installed) -> RuntimeConfig {
    RuntimeConfig {
        root: data_dir.join("runtime"),
        monitor: installed.monitor.clone(),
        cgroup_root: installed.cgroup_root.clone(),
    }
}

/// Stops and removes everything the node at `data_dir` runs, and its pod network. A data
/// dir where no node ran is left as it is.
pub async fn reset(data_dir: &Path) -> anyhow::Result<()> {
    let file = path(data_dir);
    let Ok(text) = std::fs::read(&file) else {
        return Ok(());
    };
    let installed: Installed =
        serde_json::from_slice(&text).with_context(|| format!("reading {}", file.display()))?;
    let runtime = Runtime::new(runtime_config(data_dir, &installed))?;
    for sandbox in runtime.list_sandboxes().await? {
        runtime.remove_sandbox(&sandbox.id).await?;
        // Its volumes too: a memory-backed emptyDir is a tmpfs mounted on the host.
        super::volumes::teardown(&data_dir.join("pods"), &sandbox.spec.pod_uid)?;
    }
    runtime.remove_cgroups();
    if let Some(pod_cidr) = &installed.pod_cidr {
        let parse = |s: &str| s.parse::<Cidr>().map_err(|e| anyhow::anyhow!("{s}: {e}"));
        let config = NetworkConfig {
            bridge: installed.bridge.clone(),
            cluster_cidr: parse(&installed.cluster_cidr)?,
            service_cidr: parse(&installed.service_cidr)?,
            ..NetworkConfig::new(parse(pod_cidr)?, data_dir.join("net"))
        };
        krust_net::proxy::remove(&krust_net::proxy::ProxyConfig {
            bridge: config.bridge.clone(),
            node_name: String::new(),
            cluster_cidr: config.cluster_cidr,
            service_cidr: config.service_cidr,
            host_netns: None,
        })
        .await?;
        krust_net::peers::remove(&PeersConfig {
            mode: Mode::default(),
            bridge: config.bridge.clone(),
            node_ip: std::net::Ipv4Addr::UNSPECIFIED,
            pod_cidr: config.pod_cidr,
            cluster_cidr: config.cluster_cidr,
            mtu: config.mtu,
            host_netns: None,
        })
        .await?;
        krust_net::policy::remove(&config.bridge, None).await?;
        let network = PodNetwork::setup(config).await?;
        for (uid, _) in network.allocated() {
            network.detach(&uid, None).await?;
        }
        network.teardown().await?;
    }
    std::fs::remove_file(&file)?;
    Ok(())
}
