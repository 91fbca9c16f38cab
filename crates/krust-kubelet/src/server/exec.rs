//! `exec` and `attach` (the kubelet's `ServeExec`/`ServeAttach` and apimachinery's
//! `remotecommand` server): the options from the query, the protocol chosen from what the
//! client offers (WebSocket `v5.channel.k8s.io` or `v4.channel.k8s.io`, else SPDY/3.1 with
//! `v4.channel.k8s.io`), the session asked of [`Streams`], then the upgrade.

use super::routes::{Body, Ctx, empty, flag, header_list, upgrades_to};
use super::streams::{Session, StreamError};
use super::{channels, spdy_exec, websocket};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::sync::Arc;

/// Exec or attach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Exec,
    Attach,
}

/// The WebSocket subprotocols served, best first.
const WEBSOCKET_PROTOCOLS: &[&str] = &["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// The remotecommand options of the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub command: Vec<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

impl Options {
    /// From the query; at least one stream, no stderr with a tty.
    pub fn parse(query: &HashMap<String, Vec<String>>) -> Result<Self, StreamError> {
        let tty = flag(query, "tty");
        let o = Options {
            command: query.get("command").cloned().unwrap_or_default(),
            stdin: flag(query, "stdin") || flag(query, "input"),
            stdout: flag(query, "stdout") || flag(query, "output"),
            stderr: (flag(query, "stderr") || flag(query, "error")) && !tty,
            tty,
        };
        if !(o.stdin || o.stdout || o.stderr) {
            return Err(StreamError::bad_request(
                "you must specify at least 1 of stdin, stdout, stderr",
            ));
        }
        Ok(o)
    }
}

/// The protocol a request gets.
enum Protocol {
    WebSocket(&'static str),
    Spdy,
}

fn negotiate(req: &Request<Incoming>) -> Result<Protocol, StreamError> {
    let h = req.headers();
    if upgrades_to(h, "websocket") {
        let offered = header_list(h, "sec-websocket-protocol");
        return offered
            .iter()
            .find_map(|p| WEBSOCKET_PROTOCOLS.iter().find(|s| **s == p.as_str()))
            .map(|p| Protocol::WebSocket(p))
            .ok_or_else(|| {
                StreamError::bad_request(format!(
                    "unable to upgrade: unsupported WebSocket subprotocols {offered:?}, supported: {WEBSOCKET_PROTOCOLS:?}"
                ))
            });
    }
    if upgrades_to(h, "SPDY/3.1") {
        let offered = header_list(h, "x-stream-protocol-version");
        if offered.iter().any(|p| p == spdy_exec::PROTOCOL) {
            return Ok(Protocol::Spdy);
        }
        return Err(StreamError::new(
            403,
            "Forbidden",
            format!(
                "unable to upgrade: no supported protocol among {offered:?}, supported: [\"{}\"]",
                spdy_exec::PROTOCOL
            ),
        ));
    }
    Err(StreamError::bad_request("Upgrade request required"))
}

/// Serves one exec or attach request.
pub async fn serve(
    mut req: Request<Incoming>,
    ctx: Arc<Ctx>,
    kind: Kind,
    ns: &str,
    pod: &str,
    container: &str,
    query: &HashMap<String, Vec<String>>,
) -> Result<Response<Body>, StreamError> {
    let opts = Options::parse(query)?;
    if kind == Kind::Exec && opts.command.is_empty() {
        return Err(StreamError::bad_request(
            "you must specify at least one command for the container",
        ));
    }
    let protocol = negotiate(&req)?;
    let session = match kind {
        Kind::Exec => {
            ctx.streams
                .exec(
                    ns,
                    pod,
                    container,
                    opts.command.clone(),
                    opts.tty,
                    opts.stdin,
                )
                .await?
        }
        Kind::Attach => {
            ctx.streams
                .attach(ns, pod, container, opts.tty, opts.stdin)
                .await?
        }
    };
    let session = keep_asked(session, &opts);
    let on_upgrade = hyper::upgrade::on(&mut req);
    let response = match protocol {
        Protocol::WebSocket(p) => {
            let key = req
                .headers()
                .get("sec-websocket-key")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| StreamError::bad_request("missing Sec-WebSocket-Key"))?;
            let v5 = p.starts_with("v5.");
            let response = Response::builder()
                .status(101)
                .header("upgrade", "websocket")
                .header("connection", "Upgrade")
                .header("sec-websocket-accept", websocket::accept_key(key))
                .header("sec-websocket-protocol", p)
                .body(empty())
                .expect("a valid response");
            tokio::spawn(async move {
                match on_upgrade.await {
                    Ok(io) => channels::run_exec(TokioIo::new(io), session, v5).await,
                    Err(e) => tracing::debug!(error = %e, "exec upgrade failed"),
                }
            });
            response
        }
        Protocol::Spdy => {
            let response = Response::builder()
                .status(101)
                .header("upgrade", "SPDY/3.1")
                .header("connection", "Upgrade")
                .header("x-stream-protocol-version", spdy_exec::PROTOCOL)
                .body(empty())
                .expect("a valid response");
            tokio::spawn(async move {
                match on_upgrade.await {
                    Ok(io) => spdy_exec::run(TokioIo::new(io), session, opts).await,
                    Err(e) => tracing::debug!(error = %e, "exec upgrade failed"),
                }
            });
            response
        }
    };
    Ok(response)
}

/// Drops the streams the client did not ask for.
fn keep_asked(mut s: Session, o: &Options) -> Session {
    if !o.stdin {
        s.stdin = None;
    }
    if !o.stdout {
        s.stdout = None;
    }
    if !o.stderr {
        s.stderr = None;
    }
    if !o.tty {
        s.resize = None;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_need_a_stream_and_drop_stderr_with_a_tty() {
        let q = |pairs: &[(&str, &str)]| {
            super::super::routes::query(Some(&serde_urlencoded::to_string(pairs).unwrap()))
        };
        let o = Options::parse(&q(&[
            ("command", "ls"),
            ("command", "-l"),
            ("stdout", "true"),
            ("stderr", "true"),
            ("tty", "true"),
        ]))
        .unwrap();
        assert_eq!(o.command, ["ls", "-l"]);
        assert!(o.tty && o.stdout && !o.stderr);
        assert!(Options::parse(&q(&[("command", "ls")])).is_err());
    }
}
