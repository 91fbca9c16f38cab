//! Questions outside the cluster go to the host's resolvers, as CoreDNS' `forward .
//! /etc/resolv.conf` does: the query relayed as it came (id, EDNS and all) over the
//! client's transport, the servers tried in order, 2 s each; the answer relayed as it is (a
//! truncated UDP answer makes the client retry over TCP, which is then forwarded over TCP).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

/// How long one upstream server has to answer.
const TIMEOUT: Duration = Duration::from_secs(2);

/// The resolvers questions outside the cluster go to.
#[derive(Clone, Debug, Default)]
pub struct Upstreams {
    pub servers: Vec<SocketAddr>,
}

/// The `nameserver` addresses of a resolv.conf text.
pub fn nameservers(resolv_conf: &str) -> Vec<IpAddr> {
    resolv_conf
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some("nameserver")).then(|| words.next())?
        })
        .filter_map(|ip| ip.split('%').next()?.parse().ok())
        .collect()
}

impl Upstreams {
    /// The name servers of the host's `resolv.conf` (port 53), without `exclude` (the DNS
    /// server's own addresses: forwarding to itself would loop).
    pub fn from_resolv_conf(path: &Path, exclude: &[IpAddr]) -> Upstreams {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        Upstreams {
            servers: nameservers(&text)
                .into_iter()
                .filter(|ip| !exclude.contains(ip))
                .map(|ip| SocketAddr::new(ip, 53))
                .collect(),
        }
    }

    /// The upstream's answer to the wire-format `query` (same id), over TCP or UDP; `None`
    /// when no server answered.
    pub async fn forward(&self, query: &[u8], tcp: bool) -> Option<Vec<u8>> {
        for server in &self.servers {
            let answer = if tcp {
                timeout(TIMEOUT, over_tcp(*server, query)).await
            } else {
                timeout(TIMEOUT, over_udp(*server, query)).await
            };
            match answer {
                Ok(Ok(a)) => return Some(a),
                Ok(Err(e)) => tracing::debug!(%server, error = %e, "forwarding a DNS query"),
                Err(_) => tracing::debug!(%server, "a DNS upstream timed out"),
            }
        }
        None
    }

    /// The upstream's answer to `name`/`qtype` (an ExternalName's target).
    pub async fn resolve(&self, name: &Name, qtype: RecordType) -> Option<Message> {
        let mut m = Message::query();
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(name.clone(), qtype));
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        m.set_edns(edns);
        let bytes = self.forward(&m.to_vec().ok()?, false).await?;
        let answer = Message::from_vec(&bytes).ok()?;
        if answer.metadata.truncation {
            return Message::from_vec(&self.forward(&m.to_vec().ok()?, true).await?).ok();
        }
        Some(answer)
    }
}

fn id(message: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*message.first()?, *message.get(1)?]))
}

async fn over_udp(server: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(server).await?;
    socket.send(query).await?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = socket.recv(&mut buf).await?;
        // Answers to someone else's id are not ours (a late answer, or spoofing).
        if n >= 12 && id(&buf[..n]) == id(query) {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

async fn over_tcp(server: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(server).await?;
    let len = u16::try_from(query.len()).map_err(std::io::Error::other)?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    stream.write_all(&framed).await?;
    let len = stream.read_u16().await?;
    let mut buf = vec![0u8; usize::from(len)];
    stream.read_exact(&mut buf).await?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameservers_are_read_from_resolv_conf_lines() {
        let text = "# comment\nsearch example.com\nnameserver 10.255.255.53\n\
                    nameserver fe80::1%eth0\noptions ndots:2\nnameserver bogus\n";
        assert_eq!(
            nameservers(text),
            vec![
                "10.255.255.53".parse::<IpAddr>().unwrap(),
                "fe80::1".parse().unwrap()
            ]
        );
    }
}
