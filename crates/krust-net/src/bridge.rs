//! The node's bridge, as the CNI `bridge` plugin keeps it (`isGateway`): the gateway address
//! of the node's podCIDR on it (so the podCIDR is routed to it by the kernel), forwarding on,
//! and `route_localnet` on the bridge so that a hostPort reached through 127.0.0.1 can be
//! DNATed to a pod (the CNI portmap plugin and kube-proxy do the same). The bridge's MAC
//! address is set (made from the gateway's address), or the kernel would give it the lowest
//! of its ports' and change it as pods come and go, leaving the pods' neighbour entries for
//! the gateway wrong.

use crate::cmd::{already_exists, ip_batch, ip_batch_forced, sysctl};
use crate::config::NetworkConfig;
use crate::error::Result;
use crate::veth::mac_for;

/// Makes the bridge (or keeps the one there), its address and its switches.
pub(crate) fn ensure(config: &NetworkConfig) -> Result<()> {
    let (bridge, mtu) = (&config.bridge, config.mtu);
    match ip_batch(&[format!("link add {bridge} mtu {mtu} type bridge")]) {
        Err(e) if !already_exists(&e) => return Err(e),
        _ => {}
    }
    let gateway = config.gateway();
    let prefix = config.pod_cidr.prefix();
    ip_batch(&[
        format!(
            "link set {bridge} address {} mtu {mtu} up",
            mac_for(gateway)
        ),
        format!("addr replace {gateway}/{prefix} dev {bridge}"),
    ])?;
    sysctl("ipv4/ip_forward", "1")?;
    sysctl(&format!("ipv4/conf/{bridge}/route_localnet"), "1")
}

/// Removes the bridge (and with it the route of the node's podCIDR).
pub(crate) fn delete(config: &NetworkConfig) {
    ip_batch_forced(&[format!("link del {}", config.bridge)]);
}
