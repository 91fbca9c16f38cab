//! `PodNetwork`: what the kubelet calls for a pod's network, in the order of a CNI `ADD` and
//! `DEL` of the bridge plugin with host-local IPAM and portmap chained (setup once per
//! agent start, attach when a sandbox is made, detach when it goes).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use krust_api::cidr::Cidr;

use crate::config::{HostPort, NetworkConfig, PodAddress, Protocol};
use crate::error::Result;
use crate::ipam::Ipam;
use crate::netns::{self, run_in};
use crate::{bridge, cmd, hostport, routes, veth};

/// The pod network of this node; clones share it. Dropping it changes nothing on the host
/// (pods keep their network across an agent restart); `teardown` removes it all.
#[derive(Clone)]
pub struct PodNetwork {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PodNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodNetwork")
            .field("bridge", &self.inner.config.bridge)
            .field("pod_cidr", &self.inner.config.pod_cidr)
            .field("routes_held", &self.inner.routes)
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: NetworkConfig,
    /// The allocations, as last written to the state directory.
    ipam: Mutex<Ipam>,
    /// Held while the hostPort table is written, so the last write has the latest state.
    nft: Mutex<()>,
    /// The safety routes krust holds (removed by teardown).
    routes: Vec<Cidr>,
}

impl PodNetwork {
    /// Readies the node: the safety routes first (cluster pod range and service range
    /// `unreachable`), then the bridge with the gateway address, forwarding, and the hostPort
    /// table rebuilt from the stored allocations. Run again over the same state (an agent
    /// restart), it changes nothing that works: pods keep their addresses and hostPorts.
    pub async fn setup(config: NetworkConfig) -> Result<PodNetwork> {
        config.validate()?;
        let host = config.host_netns.clone();
        let cfg = config.clone();
        let (ipam, routes) = run_in(host, move || {
            let ipam = Ipam::load(&cfg.state_dir, cfg.pod_cidr)?;
            let routes = routes::hold_unreachable(&[cfg.cluster_cidr, cfg.service_cidr])?;
            bridge::ensure(&cfg)?;
            cmd::nft(&hostport::script(&cfg, &ipam))?;
            Ok((ipam, routes))
        })
        .await?;
        Ok(PodNetwork {
            inner: Arc::new(Inner {
                config,
                ipam: Mutex::new(ipam),
                nft: Mutex::new(()),
                routes,
            }),
        })
    }

    /// The configuration it was set up with.
    pub fn config(&self) -> &NetworkConfig {
        &self.inner.config
    }

    /// Connects the pod whose network namespace is `netns` (a path to a held namespace) to
    /// the bridge: an address (the one it already has, if attached before), a veth pair,
    /// `eth0` and `lo` up in the pod, a default route through the gateway, and its
    /// `host_ports` published. Attaching the same pod again gives the same address and
    /// replaces its veth and hostPorts. A failed attach leaves what `detach` removes.
    pub async fn attach(
        &self,
        pod_uid: &str,
        netns: &Path,
        host_ports: &[HostPort],
    ) -> Result<PodAddress> {
        let inner = self.inner.clone();
        let (uid, netns, ports) = (
            pod_uid.to_string(),
            netns.to_path_buf(),
            host_ports.to_vec(),
        );
        run_in(inner.config.host_netns.clone(), move || {
            let config = &inner.config;
            let host_ns = netns::current()?;
            let (ip, before) = inner.allocate(&uid, &ports)?;
            let address = PodAddress {
                ip,
                gateway: config.gateway(),
                prefix: config.pod_cidr.prefix(),
            };
            let host_end = veth::host_veth_name(&uid);
            veth::create(config, &host_end, &netns, ip)?;
            if !before.is_empty() || !ports.is_empty() {
                inner.sync_host_ports()?;
            }
            for new_udp in ports.iter().filter(|p| p.protocol == Protocol::Udp) {
                if !before.contains(new_udp) {
                    cmd::forget_udp_flows(new_udp.host_port);
                }
            }
            netns::enter(&netns)?;
            veth::configure_pod(address)?;
            netns::return_to(&host_ns)?;
            veth::wait_forwarding(&host_end)?;
            Ok(address)
        })
        .await
    }

    /// Disconnects a pod: its veth pair (both ends), its address, then its hostPorts.
    /// Detaching a pod that is not attached does nothing. `netns`, if given and still there,
    /// is also rid of an `eth0` left in it (one whose host end was already gone).
    pub async fn detach(&self, pod_uid: &str, netns: Option<&Path>) -> Result<()> {
        let inner = self.inner.clone();
        let uid = pod_uid.to_string();
        let netns: Option<PathBuf> = netns.filter(|p| p.exists()).map(Path::to_path_buf);
        run_in(inner.config.host_netns.clone(), move || {
            veth::delete(&[veth::host_veth_name(&uid)]);
            let released = {
                let mut ipam = inner.ipam.lock().expect("ipam lock");
                let mut next = ipam.clone();
                let released = next.release(&uid);
                if released.is_some() {
                    next.save(&inner.config.state_dir)?;
                    *ipam = next;
                }
                released
            };
            if released.is_some_and(|a| !a.host_ports.is_empty()) {
                inner.sync_host_ports()?;
            }
            if let Some(netns) = netns {
                netns::enter(&netns)?;
                veth::delete(&[veth::POD_IFNAME.to_string()]);
            }
            Ok(())
        })
        .await
    }

    /// The pods that have an address, by uid.
    pub fn allocated(&self) -> Vec<(String, Ipv4Addr)> {
        let ipam = self.inner.ipam.lock().expect("ipam lock");
        ipam.pods().map(|(uid, a)| (uid.clone(), a.ip)).collect()
    }

    /// Removes everything `setup` and `attach` made: every pod's veth pair, the hostPort
    /// table, the bridge, the safety routes krust holds, and the stored allocations
    /// (`krust delete`, tests).
    pub async fn teardown(&self) -> Result<()> {
        let inner = self.inner.clone();
        run_in(inner.config.host_netns.clone(), move || {
            let config = &inner.config;
            // The same lock order as `sync_host_ports`: the table, then the allocations.
            let _nft = inner.nft.lock().expect("nft lock");
            let mut ipam = inner.ipam.lock().expect("ipam lock");
            let veths: Vec<String> = ipam
                .pods()
                .map(|(uid, _)| veth::host_veth_name(uid))
                .collect();
            veth::delete(&veths);
            cmd::nft(&hostport::delete_script(&config.bridge))?;
            bridge::delete(config);
            routes::release(&inner.routes);
            ipam.clear();
            ipam.save(&config.state_dir)
        })
        .await
    }
}

impl Inner {
    /// Gives `uid` its address and `ports`, written to the state directory before it is
    /// used; also the hostPorts it had before.
    fn allocate(&self, uid: &str, ports: &[HostPort]) -> Result<(Ipv4Addr, Vec<HostPort>)> {
        let mut ipam = self.ipam.lock().expect("ipam lock");
        let before = ipam.get(uid).cloned();
        let mut next = ipam.clone();
        let ip = next.allocate(uid, ports)?;
        if next.get(uid) != before.as_ref() {
            next.save(&self.config.state_dir)?;
            *ipam = next;
        }
        Ok((ip, before.map(|a| a.host_ports).unwrap_or_default()))
    }

    /// Writes the hostPort table from the current allocations (in the host namespace).
    fn sync_host_ports(&self) -> Result<()> {
        let _nft = self.nft.lock().expect("nft lock");
        let script = hostport::script(&self.config, &self.ipam.lock().expect("ipam lock"));
        cmd::nft(&script)
    }
}
