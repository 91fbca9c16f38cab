//! The HTTP side of the kubelet's server: TLS connections, the caller (its certificate or
//! bearer token) and what it may do (`access.rs`), routing, and answers (`Status` JSON
//! errors, streamed bodies, upgrades).

use super::access::{Access, NodeRequest};
use super::streams::{StreamError, Streams};
use super::tls::Caller;
use super::{exec, logs, portforward, resource_metrics};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

/// A response body: whole or streamed.
pub type Body = BoxBody<Bytes, std::io::Error>;

/// What every request of a server shares.
pub struct Ctx {
    pub streams: Arc<dyn Streams>,
    pub access: Access,
}

/// Serves the kubelet API on `listener` until it fails: TLS with `tls` (see
/// [`super::tls::server_config`]), callers authenticated and authorized by `access`, requests
/// answered from `streams`.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    streams: Arc<dyn Streams>,
    access: Access,
) -> std::io::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let ctx = Arc::new(Ctx { streams, access });
    loop {
        let (tcp, peer) = listener.accept().await?;
        let _ = tcp.set_nodelay(true);
        let (acceptor, ctx) = (acceptor.clone(), ctx.clone());
        tokio::spawn(async move {
            let stream = match acceptor.accept(tcp).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "kubelet TLS handshake failed");
                    return;
                }
            };
            let caller = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(Caller::from_certificate);
            let service = hyper::service::service_fn(move |req| {
                let (ctx, caller) = (ctx.clone(), caller.clone());
                async move { Ok::<_, std::convert::Infallible>(route(req, ctx, caller).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "kubelet connection ended");
            }
        });
    }
}

/// The bearer token of a request, if any.
fn bearer(headers: &hyper::HeaderMap) -> Option<&str> {
    let value = headers.get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Who is calling, by certificate or token; `None` answers 401.
async fn authenticate(ctx: &Ctx, req: &Request<Incoming>, cert: Option<Caller>) -> Option<Caller> {
    if cert.is_some() {
        return cert;
    }
    match ctx.access.authenticate(bearer(req.headers())?).await {
        Ok(caller) => caller,
        Err(e) => {
            tracing::warn!(error = %e, "the kubelet could not review a bearer token");
            None
        }
    }
}

async fn route(req: Request<Incoming>, ctx: Arc<Ctx>, cert: Option<Caller>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let Some(caller) = authenticate(&ctx, &req, cert).await else {
        return text(401, "Unauthorized");
    };
    let asked = NodeRequest::of(req.method(), &path);
    match ctx.access.authorize(&caller, &asked).await {
        Ok(true) => {}
        Ok(false) => return text(403, &asked.forbidden(&caller.user)),
        Err(e) => {
            tracing::warn!(error = %e, user = %caller.user, "the kubelet could not ask the API server");
            return text(500, &asked.error(&caller.user));
        }
    }
    let verb = match *req.method() {
        hyper::Method::GET | hyper::Method::HEAD => "get",
        hyper::Method::POST => "create",
        _ => "update",
    };
    let query = query(req.uri().query());
    let segs: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(String::from)
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let result = match (segs.as_slice(), verb) {
        (["healthz"], "get") => Ok(text(200, "ok")),
        (["stats", "summary"], "get") => ctx.streams.summary().await.map(|s| {
            let body = serde_json::to_vec_pretty(&s).unwrap_or_default();
            typed(200, "application/json", body)
        }),
        (["metrics", "resource"], "get") => {
            let summary = ctx.streams.summary().await;
            if let Err(e) = &summary {
                tracing::debug!(error = %e, "reading stats for /metrics/resource");
            }
            let body = resource_metrics::render(summary.as_ref().ok());
            Ok(typed(
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                body.into_bytes(),
            ))
        }
        (["containerLogs", ns, pod, container], "get") => {
            logs_answer(&ctx, ns, pod, container, &query).await
        }
        (["exec", ns, pod, container], "get" | "create") => {
            exec::serve(
                req,
                ctx.clone(),
                exec::Kind::Exec,
                ns,
                pod,
                container,
                &query,
            )
            .await
        }
        (["attach", ns, pod, container], "get" | "create") => {
            exec::serve(
                req,
                ctx.clone(),
                exec::Kind::Attach,
                ns,
                pod,
                container,
                &query,
            )
            .await
        }
        (["portForward", ns, pod], "get" | "create") => {
            portforward::serve(req, ctx.clone(), ns, pod, &query).await
        }
        _ => Ok(text(404, "404 page not found")),
    };
    result.unwrap_or_else(|e| status(&e))
}

async fn logs_answer(
    ctx: &Ctx,
    ns: &str,
    pod: &str,
    container: &str,
    query: &HashMap<String, Vec<String>>,
) -> Result<Response<Body>, StreamError> {
    let opts = logs::LogOptions::parse(query)?;
    let path = ctx
        .streams
        .log_path(ns, pod, container, opts.previous)
        .await?;
    if !path.exists() {
        return Err(StreamError::not_found(format!(
            "failed to try resolving symlinks in path {:?}: lstat {}: no such file or directory",
            path.display(),
            path.display()
        )));
    }
    let (streams, ns, pod, container) = (
        ctx.streams.clone(),
        ns.to_string(),
        pod.to_string(),
        container.to_string(),
    );
    let running: logs::StillRunning = Box::new(move || {
        let (streams, ns, pod, container) =
            (streams.clone(), ns.clone(), pod.clone(), container.clone());
        Box::pin(async move { streams.container_running(&ns, &pod, &container).await })
    });
    let chunks = ReceiverStream::new(logs::stream(path, opts, running)).map(|b| Ok(Frame::data(b)));
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body(BodyExt::boxed(StreamBody::new(chunks)))
        .expect("a valid response"))
}

/// The query as name → values.
pub fn query(q: Option<&str>) -> HashMap<String, Vec<String>> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(q.unwrap_or("")).unwrap_or_default();
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in pairs {
        map.entry(k).or_default().push(v);
    }
    map
}

/// A boolean query parameter, spelt as Go's `strconv.ParseBool` reads it (`true`, `True`,
/// `TRUE`, `t`, `1`; the Python client sends `True`).
pub fn flag(query: &HashMap<String, Vec<String>>, name: &str) -> bool {
    query
        .get(name)
        .and_then(|v| v.first())
        .is_some_and(|v| matches!(v.as_str(), "1" | "t" | "T" | "true" | "True" | "TRUE"))
}

/// The values of a header, split at commas.
pub fn header_list(headers: &hyper::HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Whether the request asks to upgrade to `protocol` (case-insensitive).
pub fn upgrades_to(headers: &hyper::HeaderMap, protocol: &str) -> bool {
    header_list(headers, "upgrade")
        .iter()
        .any(|p| p.eq_ignore_ascii_case(protocol))
}

/// A plain-text answer.
pub fn text(code: u16, body: &str) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "text/plain; charset=utf-8")
        .body(full(Bytes::from(body.to_string())))
        .expect("a valid response")
}

/// An answer of `content_type`.
fn typed(code: u16, content_type: &str, body: Vec<u8>) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", content_type)
        .body(full(Bytes::from(body)))
        .expect("a valid response")
}

/// A `Status` answer for a refusal.
pub fn status(e: &StreamError) -> Response<Body> {
    Response::builder()
        .status(e.code)
        .header("content-type", "application/json")
        .body(full(Bytes::from(e.status().to_string())))
        .expect("a valid response")
}

/// An empty body.
pub fn empty() -> Body {
    full(Bytes::new())
}

fn full(b: Bytes) -> Body {
    Full::new(b).map_err(|never| match never {}).boxed()
}
