//! The cluster DNS every node agent serves, in place of a CoreDNS Deployment: CoreDNS'
//! `kubernetes` plugin (records of Services, headless endpoints, pods, reverse names),
//! `forward . /etc/resolv.conf` (every other name), `cache 30` and `loadbalance`, on the
//! node's pod-bridge gateway, port 53, UDP and TCP. The `kube-system/kube-dns` Service
//! (created by the API server, without a selector) leads to these servers through the
//! EndpointSlice each node publishes (`kube_dns.rs`).
//!
//! A crate of its own rather than a module of `krust-net`: it is an API client (watches
//! through kube-rs, an EndpointSlice written), which the pod network is not, and its wire
//! format comes from `hickory-proto`, which nothing else needs; the benchmark can use it
//! without a node. The wire format is hickory's; what is answered, and how, is ours
//! (`lookup.rs`, `response.rs`).

mod cache;
mod forward;
pub mod kube_dns;
mod lookup;
mod packets;
mod parse;
mod records;
mod response;
mod server;
mod watch;
mod wire;

#[cfg(test)]
mod handler_tests;
#[cfg(test)]
mod lookup_tests;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

pub use forward::{Upstreams, nameservers};
pub use hickory_proto;
pub use lookup::{Outcome, TTL, lookup};
pub use records::{Records, ServiceRecord, SliceRecord};
pub use server::{Handler, Server, reuse_port_udp};

/// The cluster's DNS domain.
pub const CLUSTER_DOMAIN: &str = "cluster.local";

/// The DNS server of a node: its records follow the cluster; stopped when dropped.
pub struct NodeDns {
    server: Server,
    follow: tokio::task::JoinHandle<()>,
}

impl NodeDns {
    /// Serves the cluster's names on `listen` (UDP and TCP; port 0 takes a free one), from
    /// records watched through `client`, forwarding other names to `upstreams`.
    pub async fn start(
        client: kube::Client,
        listen: SocketAddr,
        upstreams: Upstreams,
    ) -> std::io::Result<NodeDns> {
        let (tx, rx) = tokio::sync::watch::channel(Arc::new(Records::default()));
        let handler = Arc::new(Handler::new(CLUSTER_DOMAIN, rx, upstreams));
        let server = Server::start(listen, handler).await?;
        let follow = tokio::spawn(watch::follow(client, tx));
        Ok(NodeDns { server, follow })
    }

    /// The address it serves on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// The address clients reach it at.
    pub fn ip(&self) -> IpAddr {
        self.server.addr.ip()
    }
}

impl Drop for NodeDns {
    fn drop(&mut self) {
        self.follow.abort();
    }
}
