//! The DNS server, CoreDNS' `dnsserver` with the kubernetes, forward, cache and loadbalance
//! plugins: UDP sockets (one per core, sharing the address with `SO_REUSEPORT` as CoreDNS'
//! listeners do, so the kernel spreads clients over them) and one TCP listener on the same
//! address. A question the cluster answers is answered inline from the current [`Records`]
//! snapshot, from its packet when it was asked before (`packets.rs`); one that needs the
//! upstream resolvers (outside the zone, or an ExternalName's target) is answered from the
//! cache of their answers (`cache.rs`) or from a task of its own, so a slow upstream never
//! holds up the cluster's names.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cache::Cache;
use crate::forward::Upstreams;
use crate::lookup::{Answer, Outcome, lookup};
use crate::packets::{Packet, Packets};
use crate::records::Records;
use crate::{response, wire};

/// How long an idle TCP connection stays open.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// Answers queries from the cluster's records and the upstream resolvers.
pub struct Handler {
    zone: Name,
    records: watch::Receiver<Arc<Records>>,
    upstreams: Upstreams,
    packets: Packets,
    cache: Cache,
    /// Answers given, for the rotation of address records.
    turn: AtomicUsize,
}

/// What a query needs that cannot be answered at once.
pub enum Pending {
    /// The query, for the upstream resolvers.
    Forward(Vec<u8>, Message),
    /// A cluster answer whose ExternalName target the upstream resolves.
    Chase(Message, Answer, u32),
}

impl Handler {
    /// A handler for `zone` (`cluster.local`) answering from `records`.
    pub fn new(zone: &str, records: watch::Receiver<Arc<Records>>, upstreams: Upstreams) -> Self {
        let mut zone = Name::from_ascii(zone)
            .expect("a valid cluster domain")
            .to_lowercase();
        zone.set_fqdn(true);
        Handler {
            zone,
            records,
            upstreams,
            packets: Packets::default(),
            cache: Cache::default(),
            turn: AtomicUsize::new(0),
        }
    }

    /// The answer to the wire-format `query` when the cluster knows it, else what it waits
    /// for. `Ok(None)`: nothing to answer (a response, or a message too short for an id).
    pub fn local(&self, query: &[u8], tcp: bool) -> Result<Option<Vec<u8>>, Pending> {
        let records = self.records.borrow().clone();
        let question = wire::question(query, tcp);
        if let Some(q) = &question
            && let Some(packet) = self.packets.get(&records, q.key())
        {
            return Ok(Some(packet.reply(query, self.next_turn())));
        }
        let request = match Message::from_vec(query) {
            Ok(m) => m,
            Err(_) if query.len() >= 12 => {
                let id = u16::from_be_bytes([query[0], query[1]]);
                let m = Message::error_msg(id, OpCode::Query, ResponseCode::FormErr);
                return Ok(m.to_vec().ok());
            }
            Err(_) => return Ok(None),
        };
        if request.metadata.message_type != MessageType::Query {
            return Ok(None);
        }
        if request.metadata.op_code != OpCode::Query {
            return Ok(self.encode(
                &response::error(&request, ResponseCode::NotImp),
                &request,
                tcp,
            ));
        }
        let [_] = request.queries.as_slice() else {
            return Ok(self.encode(
                &response::error(&request, ResponseCode::FormErr),
                &request,
                tcp,
            ));
        };
        let qtype: RecordType = request.queries[0].query_type();
        match lookup(&records, &self.zone, request.queries[0].name(), qtype) {
            Outcome::Forward => match self.cache.get(&request) {
                Some(m) => Ok(self.encode(&m, &request, tcp)),
                None => Err(Pending::Forward(query.to_vec(), request)),
            },
            Outcome::Answer(answer) if answer.chase.is_some() => {
                Err(Pending::Chase(request, answer, records.serial))
            }
            Outcome::Answer(answer) => {
                let m = response::authoritative(&request, answer, &self.zone, records.serial);
                let Some(bytes) = self.encode(&m, &request, tcp) else {
                    return Ok(None);
                };
                let packet = Arc::new(Packet::new(bytes));
                let reply = packet.reply(query, self.next_turn());
                if let Some(q) = &question {
                    self.packets.insert(&records, q.key(), packet);
                }
                Ok(Some(reply))
            }
        }
    }

    fn next_turn(&self) -> usize {
        self.turn.fetch_add(1, Ordering::Relaxed)
    }

    /// Finishes a query with the upstream resolvers' help.
    pub async fn finish(&self, pending: Pending, tcp: bool) -> Option<Vec<u8>> {
        match pending {
            Pending::Forward(query, request) => match self.upstreams.forward(&query, tcp).await {
                Some(answer) => {
                    self.cache.put(&request, &answer);
                    Some(answer)
                }
                None => self.encode(
                    &response::error(&request, ResponseCode::ServFail),
                    &request,
                    tcp,
                ),
            },
            Pending::Chase(request, mut answer, serial) => {
                let chase = answer.chase.take().expect("a chase");
                let qtype = request.queries[0].query_type();
                // As CoreDNS: the CNAME and the upstream's answer, or nothing if it failed.
                if let Some(upstream) = self.upstreams.resolve(&chase.target, qtype).await {
                    answer.answers.push(chase.cname);
                    answer.answers.extend(upstream.answers);
                }
                let m = response::authoritative(&request, answer, &self.zone, serial);
                self.encode(&m, &request, tcp)
            }
        }
    }

    /// The answer to `query`, whatever it takes.
    pub async fn answer(&self, query: &[u8], tcp: bool) -> Option<Vec<u8>> {
        match self.local(query, tcp) {
            Ok(a) => a,
            Err(p) => self.finish(p, tcp).await,
        }
    }

    fn encode(&self, m: &Message, request: &Message, tcp: bool) -> Option<Vec<u8>> {
        let size = if tcp {
            usize::from(u16::MAX)
        } else {
            response::udp_size(request)
        };
        Some(response::encode_within(m, size))
    }
}

/// A running DNS server: its UDP and TCP tasks end when it is dropped.
pub struct Server {
    /// The address it serves on (UDP and TCP).
    pub addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Server {
    /// Serves `handler` on `addr` (port 0: a free port, the same for UDP and TCP).
    pub async fn start(addr: SocketAddr, handler: Arc<Handler>) -> std::io::Result<Server> {
        let (udp, tcp) = loop {
            // Port 0: a port free now (a socket bound to port 0 with SO_REUSEPORT could be
            // given the port of another group of sockets, and join it).
            let at = match addr.port() {
                0 => std::net::UdpSocket::bind(addr)?.local_addr()?,
                _ => addr,
            };
            let udp = match reuse_port_udp(at) {
                Ok(udp) => udp,
                Err(e) if addr.port() == 0 && e.kind() == std::io::ErrorKind::AddrInUse => continue,
                Err(e) => return Err(e),
            };
            match TcpListener::bind(at).await {
                Ok(tcp) => break (udp, tcp),
                // A free UDP port whose TCP twin is taken: try another.
                Err(e) if addr.port() == 0 && e.kind() == std::io::ErrorKind::AddrInUse => {}
                Err(e) => return Err(e),
            }
        };
        let addr = udp.local_addr()?;
        let mut sockets = vec![udp];
        for _ in 1..udp_sockets() {
            sockets.push(reuse_port_udp(addr)?);
        }
        let mut tasks = Vec::new();
        for socket in sockets {
            let socket = Arc::new(UdpSocket::from_std(socket)?);
            tasks.push(tokio::spawn(serve_udp(socket, handler.clone())));
        }
        tasks.push(tokio::spawn(serve_tcp(tcp, handler)));
        Ok(Server { addr, tasks })
    }
}

/// One UDP socket per core, at least two.
fn udp_sockets() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8))
}

/// A non-blocking UDP socket bound to `addr` with `SO_REUSEPORT`: the sockets of one server
/// share its address, each client's queries going to one of them.
pub fn reuse_port_udp(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use rustix::net::{AddressFamily, SocketType, bind, socket, sockopt};
    let family = if addr.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    let fd = socket(family, SocketType::DGRAM, None)?;
    sockopt::set_socket_reuseport(&fd, true)?;
    bind(&fd, &addr)?;
    let socket = std::net::UdpSocket::from(fd);
    socket.set_nonblocking(true)?;
    Ok(socket)
}

async fn serve_udp(socket: Arc<UdpSocket>, handler: Arc<Handler>) {
    let mut buf = vec![0u8; 65535];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                // ICMP errors of earlier answers surface here; the socket goes on.
                tracing::debug!(error = %e, "receiving a DNS query");
                continue;
            }
        };
        match handler.local(&buf[..n], false) {
            Ok(Some(answer)) => {
                let _ = socket.send_to(&answer, peer).await;
            }
            Ok(None) => {}
            Err(pending) => {
                let (socket, handler) = (socket.clone(), handler.clone());
                tokio::spawn(async move {
                    if let Some(answer) = handler.finish(pending, false).await {
                        let _ = socket.send_to(&answer, peer).await;
                    }
                });
            }
        }
    }
}

async fn serve_tcp(listener: TcpListener, handler: Arc<Handler>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve_connection(stream, handler.clone()));
            }
            Err(e) => {
                tracing::debug!(error = %e, "accepting a DNS connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Length-prefixed queries on one connection, answered in order.
async fn serve_connection(mut stream: TcpStream, handler: Arc<Handler>) {
    loop {
        let Ok(Ok(len)) = tokio::time::timeout(TCP_IDLE, stream.read_u16()).await else {
            return;
        };
        let mut query = vec![0u8; usize::from(len)];
        if stream.read_exact(&mut query).await.is_err() {
            return;
        }
        let Some(answer) = handler.answer(&query, true).await else {
            continue;
        };
        let Ok(len) = u16::try_from(answer.len()) else {
            return;
        };
        let mut framed = len.to_be_bytes().to_vec();
        framed.extend_from_slice(&answer);
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
}
