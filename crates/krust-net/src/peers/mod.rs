//! The pod network between nodes, as flannel's backends program it on each host: every other
//! node of the cluster (a [`Peer`]: its name, InternalIP and podCIDR) gets what makes its
//! pods reachable from this node, in one of two [`Mode`]s.
//!
//! - [`Mode::Routes`] (flannel's `host-gw`): the nodes share one L2 segment, so each peer's
//!   podCIDR is routed through the peer's own address (`ip route replace <podCIDR> via
//!   <peer IP> proto 107`). No encapsulation, the underlay's MTU.
//! - [`Mode::Vxlan`] (flannel's `vxlan`): the nodes only need to reach each other over IP.
//!   A VXLAN device (`vxlan.rs`: VNI 1, UDP port 8472, no learning, named after the bridge so
//!   several test nodes on one host never share one) carries the pod traffic; this node's
//!   VTEP address is its podCIDR's network address (`.0`, as flannel's `flannel.1`), with a
//!   MAC address made from it that the node announces (a Node annotation). Each peer gets a
//!   route of its podCIDR through the device, onlink to the peer's VTEP address, a permanent
//!   neighbour entry (VTEP address → VTEP MAC) and a permanent FDB entry (VTEP MAC → the
//!   peer's node address): everything static, nothing learnt or multicast. Pods' MTU is
//!   the underlay's less the 50 bytes of VXLAN over IPv4 ([`Mode::pod_mtu`]).
//!
//! `entries.rs` turns the peers into the kernel entries they need (pure) and the difference
//! to what the kernel holds into `ip` and `bridge` commands; `observe.rs` reads what the
//! kernel holds (`ip -j`, `bridge -j`), so every sync is incremental (a node added, removed
//! or changed changes only its entries), idempotent, and repairs entries someone removed.
//!
//! Network safety: the peer routes are more specific than the pod network's `unreachable`
//! route of the cluster range (`routes.rs`), which stays: a pod address of no known peer is
//! still unreachable here. Nothing is masqueraded: pods see each other's addresses.

mod entries;
mod observe;
mod underlay;
mod vxlan;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;

use krust_api::cidr::Cidr;

use crate::cmd;
use crate::error::{Error, Result};
use crate::netns::run_in;

pub use underlay::underlay_mtu;

/// The Node annotation naming the pod network mode a node takes part in (as flannel's
/// `flannel.alpha.coreos.com/backend-type`); nodes without it (sim nodes) are no peers.
pub const MODE_ANNOTATION: &str = "network.krust.dev/mode";

/// The Node annotation holding a node's VTEP MAC address in VXLAN mode (as flannel's
/// `flannel.alpha.coreos.com/backend-data`'s `VtepMAC`).
pub const VTEP_MAC_ANNOTATION: &str = "network.krust.dev/vtep-mac";

/// The VXLAN network identifier (flannel's default).
pub const VNI: u32 = 1;

/// The VXLAN UDP port (the Linux kernel's and flannel's, not IANA's 4789).
pub const VXLAN_PORT: u16 = 8472;

/// What VXLAN over IPv4 adds to a frame: outer IPv4 (20), UDP (8), VXLAN (8) and inner
/// Ethernet (14) headers.
pub const VXLAN_OVERHEAD: u32 = 50;

/// How pods on different nodes reach each other.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Routes through the peers' addresses: the nodes share one L2 segment (flannel's
    /// `host-gw`). What a one-node host needs: nothing at all.
    #[default]
    Routes,
    /// A VXLAN overlay: the nodes reach each other over IP (flannel's `vxlan`).
    Vxlan,
}

impl Mode {
    /// The name of the mode (`routes`, `vxlan`): flags, the cluster's ConfigMap, annotations.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Routes => "routes",
            Mode::Vxlan => "vxlan",
        }
    }

    /// The MTU of the bridge and pods' veths over an underlay of MTU `underlay`.
    pub fn pod_mtu(self, underlay: u32) -> u32 {
        match self {
            Mode::Routes => underlay,
            Mode::Vxlan => underlay.saturating_sub(VXLAN_OVERHEAD),
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "routes" => Ok(Mode::Routes),
            "vxlan" => Ok(Mode::Vxlan),
            _ => Err(format!("{s:?} is neither routes nor vxlan")),
        }
    }
}

/// Another node of the cluster, as its Node says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The Node's name.
    pub name: String,
    /// Its InternalIP.
    pub ip: Ipv4Addr,
    /// Its `spec.podCIDR`.
    pub pod_cidr: Cidr,
    /// Its VTEP MAC address ([`VTEP_MAC_ANNOTATION`]); needed in VXLAN mode.
    pub vtep_mac: Option<String>,
}

/// This node's side of the pod network between nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeersConfig {
    /// Routes or VXLAN.
    pub mode: Mode,
    /// The node's pod bridge (the VXLAN device is named after it).
    pub bridge: String,
    /// The node's InternalIP (the VXLAN device's local address).
    pub node_ip: Ipv4Addr,
    /// The node's podCIDR (its network address is the VTEP address).
    pub pod_cidr: Cidr,
    /// The cluster's pod range: the peer routes krust removes are inside it.
    pub cluster_cidr: Cidr,
    /// The pods' MTU (the VXLAN device's): [`Mode::pod_mtu`] of the underlay.
    pub mtu: u32,
    /// The network namespace playing the host (`None`: this process's own), as
    /// [`crate::NetworkConfig::host_netns`].
    pub host_netns: Option<PathBuf>,
}

impl PeersConfig {
    /// The VXLAN device's name: the bridge's (at most 12 characters of it) and `.vx`.
    pub fn device(&self) -> String {
        vxlan::device_name(&self.bridge)
    }

    /// The VTEP MAC address peers must know (VXLAN mode only).
    pub fn vtep_mac(&self) -> Option<String> {
        (self.mode == Mode::Vxlan).then(|| vxlan::vtep_mac(self.pod_cidr))
    }
}

/// What a sync changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Synced {
    /// Kernel entries added or replaced.
    pub added: usize,
    /// Kernel entries removed.
    pub removed: usize,
}

/// This node's pod network towards its peers; clones share it. Dropping it leaves the
/// entries in place; [`PeerNetwork::stop`] removes them.
#[derive(Clone, Debug)]
pub struct PeerNetwork {
    config: Arc<PeersConfig>,
    /// Held by the thread changing the kernel's entries, one sync at a time; `true` once
    /// stopped, so a sync whose caller was cancelled never writes after [`PeerNetwork::stop`].
    kernel: Arc<std::sync::Mutex<bool>>,
}

impl PeerNetwork {
    /// Readies the node: in VXLAN mode the device (made, or kept when it is what the
    /// configuration says); in routes mode, a device left by an earlier VXLAN run goes.
    pub async fn start(config: PeersConfig) -> Result<PeerNetwork> {
        if !crate::config::plain_link_name(&config.bridge) {
            return Err(Error::Config(format!("bridge name {:?}", config.bridge)));
        }
        let cfg = config.clone();
        run_in(config.host_netns.clone(), move || match cfg.mode {
            Mode::Vxlan => vxlan::ensure(&cfg),
            Mode::Routes => {
                vxlan::delete(&cfg.device());
                Ok(())
            }
        })
        .await?;
        Ok(PeerNetwork {
            config: Arc::new(config),
            kernel: Default::default(),
        })
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &PeersConfig {
        &self.config
    }

    /// Makes the kernel hold exactly what `peers` need (this node itself is skipped): what
    /// is there already stays untouched, what no peer needs goes.
    pub async fn sync(&self, peers: &[Peer]) -> Result<Synced> {
        let (config, kernel) = (self.config.clone(), self.kernel.clone());
        let want = entries::wanted(&config, peers);
        run_in(config.host_netns.clone(), move || {
            let stopped = kernel.lock().unwrap_or_else(|e| e.into_inner());
            if *stopped {
                return Ok(Synced::default());
            }
            if config.mode == Mode::Vxlan {
                // Made again if someone removed it.
                vxlan::ensure(&config)?;
            }
            let have = observe::entries(&config)?;
            let plan = entries::plan(&have, &want);
            let synced = Synced {
                added: plan.add.len(),
                removed: plan.remove.len(),
            };
            let device = config.device();
            let (ip_del, bridge_del) = entries::commands(&plan.remove, &device, false);
            cmd::ip_batch_forced(&ip_del);
            cmd::bridge_batch_forced(&bridge_del);
            let (ip_add, bridge_add) = entries::commands(&plan.add, &device, true);
            // The forwarding entries first, so a route never leads to an unknown VTEP.
            let fdb = cmd::bridge_batch_all(&bridge_add);
            let routes = cmd::ip_batch_all(&ip_add);
            fdb.and(routes).map(|()| synced)
        })
        .await
    }

    /// Removes what the node programmed for its peers (the agent stops); later syncs do
    /// nothing.
    pub async fn stop(&self) -> Result<()> {
        let kernel = self.kernel.clone();
        let config = self.config.clone();
        run_in(config.host_netns.clone(), move || {
            let mut stopped = kernel.lock().unwrap_or_else(|e| e.into_inner());
            *stopped = true;
            remove_here(&config);
            Ok(())
        })
        .await
    }
}

/// Removes what a node with `config` programmed for its peers, whether it is there or not
/// (`krust killall`): the VXLAN device (its neighbour and FDB entries and routes go with
/// it) and every krust route inside the cluster range but the `unreachable` one.
pub async fn remove(config: &PeersConfig) -> Result<()> {
    let config = config.clone();
    run_in(config.host_netns.clone(), move || {
        remove_here(&config);
        Ok(())
    })
    .await
}

fn remove_here(config: &PeersConfig) {
    vxlan::delete(&config.device());
    let cluster = config.cluster_cidr.to_string();
    let flush = [
        "route",
        "flush",
        "root",
        &cluster,
        "proto",
        crate::routes::PROTO,
        "type",
        "unicast",
    ];
    if let Err(e) = cmd::ip(&flush) {
        tracing::debug!(error = %e, "no peer routes to remove");
    }
}
