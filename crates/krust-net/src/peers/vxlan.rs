//! The node's VXLAN device, as flannel's vxlan backend makes `flannel.<VNI>`: VNI [`VNI`],
//! UDP port [`VXLAN_PORT`], the node's address as local address, no learning (peers are
//! programmed, never learnt), the pods' MTU, the VTEP address (the podCIDR's network
//! address, a /32) and a MAC address made from it, so a remade device keeps the MAC its
//! peers know. A device whose VNI, port or local address differ is made again; one that is
//! right is left alone.

use krust_api::cidr::Cidr;
use serde_json::Value;

use super::{PeersConfig, VNI, VXLAN_PORT};
use crate::cmd::{already_exists, ip, ip_batch, ip_batch_forced};
use crate::error::Result;
use crate::veth::mac_for;

/// The device of the node whose bridge is `bridge`: 12 characters of it and `.vx`.
pub(crate) fn device_name(bridge: &str) -> String {
    let keep = bridge
        .char_indices()
        .nth(12)
        .map_or(bridge.len(), |(i, _)| i);
    format!("{}.vx", &bridge[..keep])
}

/// The VTEP MAC address of the node whose podCIDR is `pod_cidr`.
pub(crate) fn vtep_mac(pod_cidr: Cidr) -> String {
    mac_for(pod_cidr.network())
}

/// Makes the device (or keeps the one there), its address, MAC and MTU. A device that is
/// already right is left alone: even setting its MAC to the same value would flush its
/// neighbours.
pub(crate) fn ensure(config: &PeersConfig) -> Result<()> {
    let device = config.device();
    let local = config.node_ip.to_string();
    let mac = vtep_mac(config.pod_cidr);
    let shown = ip(&["-d", "-j", "link", "show", "dev", &device]).unwrap_or_default();
    let state = state(&shown, &local, &mac, config.mtu);
    if state == State::Other {
        tracing::info!(%device, "remaking the VXLAN device");
        delete(&device);
    }
    if state != State::Right {
        let add = format!(
            "link add {device} type vxlan id {VNI} local {local} dstport {VXLAN_PORT} nolearning"
        );
        match ip_batch(&[add]) {
            Err(e) if !already_exists(&e) => return Err(e),
            _ => {}
        }
        ip_batch(&[format!(
            "link set {device} address {mac} mtu {} up",
            config.mtu
        )])?;
    }
    let vtep = config.pod_cidr.network();
    ip_batch(&[format!("addr replace {vtep}/32 dev {device}")])
}

/// What `ip -d -j link show` says of the device.
#[derive(Debug, PartialEq, Eq)]
enum State {
    /// No such device.
    Missing,
    /// Another kind, VNI, port or local address: to be made again.
    Other,
    /// Krust's device, but its MAC, MTU or state are to be set.
    Unset,
    /// Right as it is.
    Right,
}

fn state(shown: &str, local: &str, mac: &str, mtu: u32) -> State {
    let Ok(links) = serde_json::from_str::<Vec<Value>>(shown) else {
        return State::Missing;
    };
    let Some(link) = links.first() else {
        return State::Missing;
    };
    let info = &link["linkinfo"];
    let data = &info["info_data"];
    let ours = info["info_kind"] == "vxlan"
        && data["id"] == VNI
        && data["port"] == VXLAN_PORT
        && data["local"] == local;
    let up = link["flags"]
        .as_array()
        .is_some_and(|f| f.iter().any(|f| f == "UP"));
    match (ours, link["address"] == mac && link["mtu"] == mtu && up) {
        (false, _) => State::Other,
        (true, false) => State::Unset,
        (true, true) => State::Right,
    }
}

/// Removes the device (with its neighbours, FDB entries and routes), if it is there.
pub(crate) fn delete(device: &str) {
    ip_batch_forced(&[format!("link del {device}")]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_device_is_named_after_the_bridge_within_fifteen_characters() {
        assert_eq!(device_name("krust0"), "krust0.vx");
        assert_eq!(device_name("krt-a-long-name"), "krt-a-long-n.vx");
        assert!(crate::config::plain_link_name(&device_name(
            "abcdefghijklmno"
        )));
    }

    #[test]
    fn the_vtep_mac_is_made_from_the_pod_range_s_network_address() {
        let cidr: Cidr = "10.36.5.0/24".parse().unwrap();
        assert_eq!(vtep_mac(cidr), "0a:58:0a:24:05:00");
    }

    #[test]
    fn a_device_of_another_vni_port_or_address_is_made_again_and_a_right_one_kept() {
        let shown = |id: u32, port: u16, local: &str, mtu: u32| {
            format!(
                r#"[{{"ifname":"krust0.vx","flags":["BROADCAST","UP"],"mtu":{mtu},"address":"0a:58:0a:24:05:00","linkinfo":{{"info_kind":"vxlan","info_data":{{"id":{id},"local":"{local}","port":{port},"learning":false}}}}}}]"#
            )
        };
        let mac = "0a:58:0a:24:05:00";
        let state = |s: &str| super::state(s, "10.38.0.2", mac, 1450);
        assert_eq!(state(&shown(1, 8472, "10.38.0.2", 1450)), State::Right);
        assert_eq!(state(&shown(1, 8472, "10.38.0.2", 1500)), State::Unset);
        assert_eq!(state(&shown(2, 8472, "10.38.0.2", 1450)), State::Other);
        assert_eq!(state(&shown(1, 4789, "10.38.0.2", 1450)), State::Other);
        assert_eq!(state(&shown(1, 8472, "10.38.0.3", 1450)), State::Other);
        assert_eq!(state(""), State::Missing);
    }
}
