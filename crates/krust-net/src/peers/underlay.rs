//! The underlay: the MTU of the link carrying the node's address, which the pods' MTU is
//! made from ([`super::Mode::pod_mtu`]), as flannel reads its public interface's MTU.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde_json::Value;

use crate::cmd;
use crate::error::Result;
use crate::netns::run_in;

/// The MTU of the link that has `address` in the namespace `netns` (this process's own when
/// `None`); `None` when no link has it.
pub async fn underlay_mtu(address: Ipv4Addr, netns: Option<PathBuf>) -> Result<Option<u32>> {
    let shown = run_in(netns, || cmd::ip(&["-j", "addr", "show"])).await?;
    Ok(mtu_of(&shown, address))
}

/// The MTU of the link with `address` in `ip -j addr show`'s answer.
fn mtu_of(shown: &str, address: Ipv4Addr) -> Option<u32> {
    let links: Vec<Value> = serde_json::from_str(shown).ok()?;
    let want = address.to_string();
    links
        .iter()
        .find(|link| {
            link["addr_info"]
                .as_array()
                .is_some_and(|a| a.iter().any(|i| i["local"] == want.as_str()))
        })
        .and_then(|link| link["mtu"].as_u64())
        .and_then(|m| u32::try_from(m).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mtu_is_the_one_of_the_link_holding_the_address() {
        let shown = r#"[{"ifname":"lo","mtu":65536,"addr_info":[{"family":"inet","local":"127.0.0.1"}]},
            {"ifname":"eth0","mtu":1400,"addr_info":[{"family":"inet","local":"10.38.0.2"},{"family":"inet6","local":"fe80::1"}]}]"#;
        assert_eq!(mtu_of(shown, "10.38.0.2".parse().unwrap()), Some(1400));
        assert_eq!(mtu_of(shown, "10.38.0.9".parse().unwrap()), None);
    }
}
