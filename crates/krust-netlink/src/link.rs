//! Links: a veth pair with one end on a bridge and the other in a pod's namespace (`ip link
//! add … type veth peer … netns …`), up (`ip link set … up`), a bridge port's hairpin mode
//! and forwarding state (`ip link set … type bridge_slave hairpin on`, `ip -d link show`),
//! removal (`ip link del`).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    BridgePortState, InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, InfoVeth,
    LinkAttribute, LinkFlags, LinkInfo, LinkMessage, State,
};

use crate::Netlink;

/// A veth pair: `name` up on the bridge `bridge`, its peer `peer` (down) moved into the
/// network namespace `peer_netns` with the address `peer_mac`; both ends `mtu`.
pub struct Veth<'a> {
    pub name: &'a str,
    pub bridge: &'a str,
    pub mtu: u32,
    pub peer: &'a str,
    pub peer_mac: [u8; 6],
    pub peer_netns: BorrowedFd<'a>,
}

impl Netlink {
    /// The index of the link `name`.
    pub fn index(&mut self, name: &str) -> io::Result<u32> {
        Ok(self.link(name)?.header.index)
    }

    /// Makes `veth`; an existing link of its name is an `AlreadyExists` error.
    pub fn add_veth(&mut self, veth: &Veth) -> io::Result<()> {
        let bridge = self.index(veth.bridge)?;
        let mut peer = LinkMessage::default();
        peer.attributes = vec![
            LinkAttribute::IfName(veth.peer.to_string()),
            LinkAttribute::Address(veth.peer_mac.to_vec()),
            LinkAttribute::Mtu(veth.mtu),
            LinkAttribute::NetNsFd(veth.peer_netns.as_raw_fd()),
        ];
        let mut link = up(0);
        link.attributes = vec![
            LinkAttribute::IfName(veth.name.to_string()),
            LinkAttribute::Mtu(veth.mtu),
            LinkAttribute::Controller(bridge),
            LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::Veth),
                LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
            ]),
        ];
        self.request(
            RouteNetlinkMessage::NewLink(link),
            NLM_F_CREATE | NLM_F_EXCL,
        )
        .map(drop)
    }

    /// Sets the link `index` up.
    pub fn set_up(&mut self, index: u32) -> io::Result<()> {
        self.request(RouteNetlinkMessage::NewLink(up(index)), 0)
            .map(drop)
    }

    /// Turns hairpin mode on for the bridge port `index` (a pod reaches itself through the
    /// bridge).
    pub fn set_hairpin(&mut self, index: u32) -> io::Result<()> {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.attributes = vec![LinkAttribute::LinkInfo(vec![
            LinkInfo::PortKind(InfoPortKind::Bridge),
            LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
                true,
            )])),
        ])];
        self.request(RouteNetlinkMessage::NewLink(link), 0)
            .map(drop)
    }

    /// Whether the bridge port `name` forwards.
    pub fn forwarding(&mut self, name: &str) -> io::Result<bool> {
        let link = self.link(name)?;
        Ok(link.attributes.iter().any(|a| match a {
            LinkAttribute::LinkInfo(infos) => infos.iter().any(|i| {
                matches!(i, LinkInfo::PortData(InfoPortData::BridgePort(port))
                    if port.contains(&InfoBridgePort::State(BridgePortState::Forwarding)))
            }),
            _ => false,
        }))
    }

    /// Whether the link `name` is operationally up: the kernel's link watch has seen its
    /// carrier and given it its queueing discipline (until then what it sends is dropped).
    pub fn operationally_up(&mut self, name: &str) -> io::Result<bool> {
        let link = self.link(name)?;
        Ok(link
            .attributes
            .iter()
            .any(|a| matches!(a, LinkAttribute::OperState(State::Up))))
    }

    /// Removes the link `name` (a veth's peer goes with it); `NotFound` if there is none.
    pub fn delete(&mut self, name: &str) -> io::Result<()> {
        let mut link = LinkMessage::default();
        link.attributes = vec![LinkAttribute::IfName(name.to_string())];
        self.request(RouteNetlinkMessage::DelLink(link), 0)
            .map(drop)
    }

    fn link(&mut self, name: &str) -> io::Result<LinkMessage> {
        let mut link = LinkMessage::default();
        link.attributes = vec![LinkAttribute::IfName(name.to_string())];
        self.request(RouteNetlinkMessage::GetLink(link), 0)?
            .into_iter()
            .find_map(|m| match m {
                RouteNetlinkMessage::NewLink(link) => Some(link),
                _ => None,
            })
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no link {name}")))
    }
}

/// A change of link `index` (0: the one being made) to up.
fn up(index: u32) -> LinkMessage {
    let mut link = LinkMessage::default();
    link.header.index = index;
    link.header.flags = LinkFlags::Up;
    link.header.change_mask = LinkFlags::Up;
    link
}
