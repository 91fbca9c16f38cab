//! Port-forward (the kubelet's `ServePortForward`, `cri/streaming/portforward`): over SPDY/3.1
//! (`portforward.k8s.io`; plain after `Upgrade: SPDY/3.1`, or tunnelled in WebSocket messages
//! as `SPDY/3.1+portforward.k8s.io`), where each forwarded connection is a pair of client
//! streams (`streamType` `error` and `data`, with `port` and `requestID`); or over WebSocket
//! `v4.channel.k8s.io` with the ports in the `ports` query, two channels per port.

use super::channels::pump;
use super::routes::{Body, Ctx, empty, header_list, upgrades_to};
use super::spdy;
use super::spdy_session::{self, Stream, Writer};
use super::streams::StreamError;
use super::websocket;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The SPDY port-forward protocol.
const PROTOCOL: &str = "portforward.k8s.io";
/// SPDY tunnelled in WebSocket (kubectl 1.30+).
const TUNNEL: &str = "SPDY/3.1+portforward.k8s.io";
/// The WebSocket channel protocols (the Python client's).
const CHANNEL_PROTOCOLS: &[&str] = &["v4.channel.k8s.io", "portforward.k8s.io"];

enum Mode {
    Spdy,
    Tunnel,
    Channels(&'static str, Vec<u16>),
}

/// Serves one port-forward request.
pub async fn serve(
    mut req: Request<Incoming>,
    ctx: Arc<Ctx>,
    ns: &str,
    pod: &str,
    query: &HashMap<String, Vec<String>>,
) -> Result<Response<Body>, StreamError> {
    let h = req.headers();
    let mode = if upgrades_to(h, "websocket") {
        let offered = header_list(h, "sec-websocket-protocol");
        if offered.iter().any(|p| p == TUNNEL) {
            Mode::Tunnel
        } else if let Some(p) = offered
            .iter()
            .find_map(|p| CHANNEL_PROTOCOLS.iter().find(|s| **s == p.as_str()))
        {
            Mode::Channels(p, ports(query)?)
        } else {
            return Err(StreamError::bad_request(format!(
                "unable to upgrade: unsupported WebSocket subprotocols {offered:?}"
            )));
        }
    } else if upgrades_to(h, "SPDY/3.1") {
        let offered = header_list(h, "x-stream-protocol-version");
        if !offered.iter().any(|p| p == PROTOCOL) {
            return Err(StreamError::new(
                403,
                "Forbidden",
                format!(
                    "unable to upgrade: no supported protocol among {offered:?}, supported: [\"{PROTOCOL}\"]"
                ),
            ));
        }
        Mode::Spdy
    } else {
        return Err(StreamError::bad_request("Upgrade request required"));
    };
    let mut response = Response::builder()
        .status(101)
        .header("connection", "Upgrade");
    response = match &mode {
        Mode::Spdy => response
            .header("upgrade", "SPDY/3.1")
            .header("x-stream-protocol-version", PROTOCOL),
        Mode::Tunnel | Mode::Channels(..) => {
            let key = h
                .get("sec-websocket-key")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| StreamError::bad_request("missing Sec-WebSocket-Key"))?;
            let p = match &mode {
                Mode::Channels(p, _) => p,
                _ => TUNNEL,
            };
            response
                .header("upgrade", "websocket")
                .header("sec-websocket-accept", websocket::accept_key(key))
                .header("sec-websocket-protocol", p)
        }
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let target = Target {
        ctx,
        ns: ns.to_string(),
        pod: pod.to_string(),
    };
    tokio::spawn(async move {
        let io = match on_upgrade.await {
            Ok(io) => TokioIo::new(io),
            Err(e) => {
                tracing::debug!(error = %e, "port-forward upgrade failed");
                return;
            }
        };
        match mode {
            Mode::Spdy => {
                let (i, o) = spdy_session::over_io(io);
                run_spdy(i, o, target).await
            }
            Mode::Tunnel => {
                let (i, o) = spdy_session::over_websocket(io);
                run_spdy(i, o, target).await
            }
            Mode::Channels(_, ports) => run_channels(io, ports, target).await,
        }
    });
    Ok(response.body(empty()).expect("a valid response"))
}

fn ports(query: &HashMap<String, Vec<String>>) -> Result<Vec<u16>, StreamError> {
    let ports: Vec<u16> = query
        .get("ports")
        .into_iter()
        .flatten()
        .flat_map(|v| v.split(','))
        .map(|p| {
            p.trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| StreamError::bad_request(format!("invalid port {p:?}")))
        })
        .collect::<Result<_, _>>()?;
    if ports.is_empty() {
        return Err(StreamError::bad_request(
            "query parameter \"port\" is required",
        ));
    }
    Ok(ports)
}

/// Where forwarded connections go.
#[derive(Clone)]
struct Target {
    ctx: Arc<Ctx>,
    ns: String,
    pod: String,
}

impl Target {
    async fn dial(&self, port: u16) -> Result<tokio::net::TcpStream, String> {
        self.ctx
            .streams
            .port_forward(&self.ns, &self.pod, port)
            .await
            .map_err(|e| {
                format!(
                    "error forwarding port {port} to pod {}/{}: {}",
                    self.ns, self.pod, e.message
                )
            })
    }
}

/// SPDY: pairs streams by `requestID`, forwards each pair.
async fn run_spdy(
    input: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    output: tokio::sync::mpsc::Sender<bytes::Bytes>,
    target: Target,
) {
    let (writer, mut incoming) = spdy_session::start(input, output);
    let mut waiting: HashMap<String, Stream> = HashMap::new();
    while let Some(s) = incoming.recv().await {
        let request = spdy::header(&s.headers, "requestid")
            .unwrap_or("")
            .to_string();
        let Some(other) = waiting.remove(&request) else {
            waiting.insert(request, s);
            continue;
        };
        let (error, data) = if spdy::header(&s.headers, "streamtype") == Some("error") {
            (s, other)
        } else {
            (other, s)
        };
        tokio::spawn(forward_pair(error, data, writer.clone(), target.clone()));
    }
}

async fn forward_pair(error: Stream, mut data: Stream, w: Writer, target: Target) {
    let port = spdy::header(&data.headers, "port").and_then(|p| p.parse::<u16>().ok());
    let conn = match port {
        Some(p) => target.dial(p).await,
        None => Err("invalid port".to_string()),
    };
    let conn = match conn {
        Ok(c) => c,
        Err(msg) => {
            w.data(error.id, msg.as_bytes()).await;
            w.fin(error.id).await;
            w.fin(data.id).await;
            return;
        }
    };
    let (mut r, mut tw) = conn.into_split();
    let inbound = tokio::spawn(async move {
        while let Some(b) = data.data.recv().await {
            if tw.write_all(&b).await.is_err() {
                return;
            }
        }
        let _ = tw.shutdown().await;
    });
    let mut buf = vec![0u8; 32 << 10];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if !w.data(data.id, &buf[..n]).await {
                    break;
                }
            }
        }
    }
    w.fin(data.id).await;
    w.fin(error.id).await;
    inbound.abort();
}

/// WebSocket channels: one connection per port, opened at once.
async fn run_channels<T>(io: T, ports: Vec<u16>, target: Target)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (r, w) = tokio::io::split(io);
    let out = websocket::writer(w);
    let mut reader = websocket::Reader::new(r, out.clone());
    let mut writers = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let (data_ch, err_ch) = ((2 * i) as u8, (2 * i + 1) as u8);
        let lp = port.to_le_bytes();
        out.binary(&[data_ch, lp[0], lp[1]]).await;
        out.binary(&[err_ch, lp[0], lp[1]]).await;
        match target.dial(*port).await {
            Ok(conn) => {
                let (cr, cw) = conn.into_split();
                tokio::spawn(pump(cr, data_ch, out.clone()));
                writers.push(Some(cw));
            }
            Err(msg) => {
                let mut m = vec![err_ch];
                m.extend_from_slice(msg.as_bytes());
                out.binary(&m).await;
                writers.push(None);
            }
        }
    }
    while let Some(m) = reader.message().await {
        let Some((&ch, data)) = m.split_first() else {
            continue;
        };
        if ch % 2 != 0 {
            continue;
        }
        if let Some(Some(w)) = writers.get_mut(ch as usize / 2)
            && w.write_all(data).await.is_err()
        {
            writers[ch as usize / 2] = None;
        }
    }
    out.close().await;
}
