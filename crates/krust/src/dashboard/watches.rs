//! Every watch of a page on one response, so that a page holds one of the browser's six
//! HTTP/1.1 connections to the dashboard however many lists it keeps live: a second tab or a
//! reload never waits for a free one. Lines of JSON, as the API's watches:
//!
//! - `GET /krust/watches` opens a page's stream; its first line names it: `{"stream":"ID"}`.
//! - `POST /krust/watches/ID` with `{"watch":N,"path":"/api/v1/pods?watch=1&…"}` starts watch
//!   `N` of the API (through the proxy's client): each event arrives as
//!   `{"watch":N,"event":{…}}`, its end as `{"watch":N,"end":{"code":C,"status":{…}}}` (C 200
//!   when the server ended it, else the error's code and `Status`).
//! - `DELETE /krust/watches/ID/N` stops it.
//!
//! The stream sends an empty line every [`HEARTBEAT`]; once the page is gone (a write fails,
//! the response is dropped) its watches stop.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::{Method, StatusCode, header};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::proxy;

/// How often an idle stream writes an empty line (and finds out the page is gone).
const HEARTBEAT: Duration = Duration::from_secs(10);

/// Lines waiting for a slow page at most, per stream; watches wait when it is full.
const QUEUED: usize = 1024;

/// The streams of the dashboard's pages.
#[derive(Default)]
pub struct Streams(Mutex<HashMap<String, Stream>>);

/// One page's stream: where its lines go, and its watches.
struct Stream {
    lines: mpsc::Sender<Bytes>,
    watches: HashMap<u64, AbortHandle>,
}

impl Streams {
    fn with<R>(&self, id: &str, f: impl FnOnce(&mut Stream) -> R) -> Option<R> {
        let mut streams = self.0.lock().unwrap_or_else(|e| e.into_inner());
        streams.get_mut(id).map(f)
    }

    /// Ends a stream's watches and forgets it.
    fn close(&self, id: &str) {
        let gone = self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
        for (_, watch) in gone.into_iter().flat_map(|s| s.watches) {
            watch.abort();
        }
    }
}

/// Whether `path` is one of the streams' (`/krust/watches…`).
pub fn is_watches(path: &str) -> bool {
    path == "/krust/watches" || path.starts_with("/krust/watches/")
}

/// Answers a request to `/krust/watches…` (after the proxy's refusals, which apply here too).
pub async fn serve(
    streams: &Arc<Streams>,
    client: &kube::Client,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    if let Some(why) = proxy::refused(&parts.method, &parts.headers) {
        return proxy::status(StatusCode::FORBIDDEN, "Forbidden", why);
    }
    let rest: Vec<&str> = parts
        .uri
        .path()
        .trim_start_matches("/krust/watches")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match (&parts.method, rest.as_slice()) {
        (&Method::GET, []) => open(streams.clone()),
        (&Method::POST, [id]) => {
            let Ok(body) = axum::body::to_bytes(body, 64 << 10).await else {
                return proxy::status(StatusCode::BAD_REQUEST, "BadRequest", "an unread body");
            };
            start(streams, client, id, &body)
        }
        (&Method::DELETE, [id, n]) => {
            let n: u64 = n.parse().unwrap_or(0);
            let stopped = streams.with(id, |s| {
                if let Some(watch) = s.watches.remove(&n) {
                    watch.abort();
                }
            });
            match stopped {
                Some(_) => StatusCode::NO_CONTENT.into_response(),
                None => proxy::status(StatusCode::NOT_FOUND, "NotFound", "no such stream"),
            }
        }
        _ => proxy::status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "not a watch stream request",
        ),
    }
}

/// Opens a page's stream.
fn open(streams: Arc<Streams>) -> Response {
    let id = krust_api::meta::new_uid();
    let (lines, mut rx) = mpsc::channel::<Bytes>(QUEUED);
    let first = format!("{{\"stream\":\"{id}\"}}\n");
    let _ = lines.try_send(Bytes::from(first));
    streams.0.lock().unwrap_or_else(|e| e.into_inner()).insert(
        id.clone(),
        Stream {
            lines: lines.clone(),
            watches: HashMap::new(),
        },
    );
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = lines.closed() => break,
                _ = tokio::time::sleep(HEARTBEAT) => {
                    if lines.send(Bytes::from_static(b"\n")).await.is_err() {
                        break;
                    }
                }
            }
        }
        streams.close(&id);
    });
    let body = futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).map(Ok::<_, Infallible>);
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// What a page asks to watch.
#[derive(serde::Deserialize)]
struct Watch {
    watch: u64,
    path: String,
}

/// Starts watch `body` on stream `id`.
fn start(streams: &Arc<Streams>, client: &kube::Client, id: &str, body: &[u8]) -> Response {
    let client = client.clone();
    let Ok(watch) = serde_json::from_slice::<Watch>(body) else {
        return proxy::status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "expected {\"watch\": N, \"path\": \"/api/…?watch=1\"}",
        );
    };
    let api_path = watch.path.split('?').next().unwrap_or("");
    if !proxy::is_api(api_path) || !watch.path.contains("watch=") {
        return proxy::status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "not a watch of the API",
        );
    }
    let Some(lines) = streams.with(id, |s| s.lines.clone()) else {
        return proxy::status(StatusCode::NOT_FOUND, "NotFound", "no such stream");
    };
    let n = watch.watch;
    // A watch that ended is forgotten (the page lists and watches again under a new number).
    let forget = {
        let (streams, id) = (streams.clone(), id.to_string());
        move || streams.with(&id, |s| s.watches.remove(&n))
    };
    let task = tokio::spawn(async move {
        relay(client, watch.path, n, lines).await;
        forget();
    });
    let added = streams.with(id, |s| {
        if let Some(old) = s.watches.insert(watch.watch, task.abort_handle()) {
            old.abort();
        }
    });
    if added.is_none() {
        task.abort();
        return proxy::status(StatusCode::NOT_FOUND, "NotFound", "no such stream");
    }
    StatusCode::ACCEPTED.into_response()
}

/// Watch `n` of `path`: its events onto `lines` as they come, then its end.
async fn relay(client: kube::Client, path: String, n: u64, lines: mpsc::Sender<Bytes>) {
    let end = |code: u16, status: &serde_json::Value| {
        Bytes::from(format!(
            "{{\"watch\":{n},\"end\":{{\"code\":{code},\"status\":{status}}}}}\n"
        ))
    };
    let request = http::Request::get(&path)
        .header(header::ACCEPT, "application/json")
        .body(kube::client::Body::empty());
    let answer = match request {
        Ok(r) => client.send(r).await,
        Err(e) => {
            let _ = lines.send(end(400, &proxy::failure(&e.to_string()))).await;
            return;
        }
    };
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            let why = format!("the API server did not answer: {e}");
            let _ = lines.send(end(502, &proxy::failure(&why))).await;
            return;
        }
    };
    let code = answer.status().as_u16();
    let mut body = Body::new(answer.into_body()).into_data_stream();
    if code != 200 {
        let mut text = Vec::new();
        while let Some(Ok(chunk)) = body.next().await {
            text.extend_from_slice(&chunk);
        }
        let status = serde_json::from_slice(&text)
            .unwrap_or_else(|_| proxy::failure(&String::from_utf8_lossy(&text)));
        let _ = lines.send(end(code, &status)).await;
        return;
    }
    let mut pending: Vec<u8> = Vec::new();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else {
            let _ = lines
                .send(end(502, &proxy::failure("the watch broke")))
                .await;
            return;
        };
        pending.extend_from_slice(&chunk);
        while let Some(nl) = pending.iter().position(|b| *b == b'\n') {
            let event: Vec<u8> = pending.drain(..=nl).collect();
            let event = event.trim_ascii();
            if event.is_empty() {
                continue;
            }
            let mut line = format!("{{\"watch\":{n},\"event\":").into_bytes();
            line.extend_from_slice(event);
            line.extend_from_slice(b"}\n");
            if lines.send(Bytes::from(line)).await.is_err() {
                return;
            }
        }
    }
    let _ = lines.send(end(200, &serde_json::json!({}))).await;
}
