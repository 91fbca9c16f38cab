//! WATCH: chunked, newline-delimited events (or length-delimited protobuf `WatchEvent`s for
//! clients that accept only protobuf), resumed from a resourceVersion, with
//! bookmarks, streaming initial lists (`sendInitialEvents`), timeouts, and one-row Tables
//! for `kubectl get -w`. A watch from a compacted revision gets HTTP 200 and one `ERROR`
//! event with a 410 `Expired` Status, which clients answer by relisting.

use super::Call;
use crate::negotiate;
use crate::registry::ListQuery;
use crate::watch_cache::{Decoded, WatchCache};
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use krust_api::protobuf;
use krust_api::resources::Resource;
use krust_api::status::ApiError;
use krust_store::{Event, EventType, Revision};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often an idle watch with `allowWatchBookmarks` gets a bookmark.
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);

/// A watch with a timeout gets a bookmark this long before it ends.
const BOOKMARK_BEFORE_END: Duration = Duration::from_secs(2);

/// Events waiting for a watcher are sent together up to about this many bytes.
const CHUNK: usize = 64 * 1024;

/// Bytes sent together: one or more lines, or parts of lines, in order.
type Frames = Vec<Bytes>;

/// Encodes watch events for one watcher.
struct Encoder {
    resource: &'static Resource,
    table: bool,
    metadata_only: bool,
    /// Frames in protobuf (length-delimited `WatchEvent`s) rather than JSON lines.
    protobuf: bool,
    columns_sent: bool,
}

/// The object a watcher sends for a store event (shared with the other watchers).
enum Sent {
    /// The object as the event left it.
    Current(Arc<Decoded>),
    /// The object as it was, at the event's revision: it left the watcher's selection.
    Left(Arc<Decoded>, Revision),
}

impl Encoder {
    /// Whether events go out as the stored JSON itself (no Table, no metadata-only view, no
    /// conversion to another version).
    fn sends_stored(&self) -> bool {
        !self.table
            && !self.metadata_only
            && !self.protobuf
            && krust_api::convert::is_stored_as_served(self.resource)
    }

    /// Appends the line for a store event to `out`: the shared JSON itself between a
    /// prefix and a suffix when it can be (no copy), otherwise an encoded line.
    fn sent(&mut self, kind: &'static str, sent: Sent, out: &mut Frames) {
        if self.sends_stored() {
            out.push(Bytes::from_static(match kind {
                "ADDED" => br#"{"type":"ADDED","object":"#,
                "MODIFIED" => br#"{"type":"MODIFIED","object":"#,
                _ => br#"{"type":"DELETED","object":"#,
            }));
            out.push(match sent {
                Sent::Current(d) => d.json().clone(),
                Sent::Left(d, rev) => d.json_at(rev),
            });
            out.push(Bytes::from_static(b"}\n"));
            return;
        }
        if self.metadata_only && !self.table {
            let obj = match sent {
                Sent::Current(d) => d.metadata_at(d.revision()),
                Sent::Left(d, rev) => d.metadata_at(rev),
            };
            out.push(self.event(kind, obj));
            return;
        }
        let obj = match sent {
            Sent::Current(d) => d.value().clone(),
            Sent::Left(d, rev) => {
                let mut obj = d.value().clone();
                obj["metadata"]["resourceVersion"] = json!(rev.to_string());
                obj
            }
        };
        let obj = krust_api::convert::from_storage(self.resource, obj);
        out.push(self.event(kind, obj));
    }

    fn event(&mut self, kind: &str, obj: Value) -> Bytes {
        let object = if self.table && kind != "ERROR" && kind != "BOOKMARK" {
            let rv = obj
                .pointer("/metadata/resourceVersion")
                .cloned()
                .unwrap_or(Value::Null);
            let first = !self.columns_sent;
            self.columns_sent = true;
            crate::table::table(self.resource, &[obj], json!({"resourceVersion": rv}), first)
        } else if self.metadata_only && kind != "ERROR" && kind != "BOOKMARK" {
            negotiate::partial(&obj)
        } else {
            obj
        };
        if self.protobuf {
            return match protobuf::watch_frame(kind, &object) {
                Ok(frame) => Bytes::from(frame),
                Err(e) => {
                    let status = ApiError::new(500, "InternalError", e.to_string()).to_status();
                    Bytes::from(protobuf::watch_frame("ERROR", &status).unwrap_or_default())
                }
            };
        }
        let mut line =
            serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }

    fn bookmark(&mut self, rev: Revision, initial_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": rev.to_string()});
        if initial_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj = json!({"kind": self.resource.kind, "apiVersion": self.resource.api_version(), "metadata": metadata});
        self.event("BOOKMARK", obj)
    }
}

pub async fn watch(call: &Call) -> Result<Response, ApiError> {
    let q = super::list::query(call)?;
    let params = &call.params;
    let rv = params.get("resourceVersion").filter(|s| !s.is_empty());
    let send_initial = params.flag("sendInitialEvents");
    let bookmarks = params.flag("allowWatchBookmarks");
    let timeout = params
        .int("timeoutSeconds")?
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t as u64));
    let enc = Encoder {
        resource: call.target.resource,
        table: negotiate::wants_table(&call.headers),
        metadata_only: negotiate::wants_metadata(&call.headers),
        protobuf: negotiate::wants_protobuf_only(&call.headers),
        columns_sent: false,
    };
    let watch = match rv {
        // From a given revision: only what happened after it.
        Some(rv) if !send_initial && rv != "0" => {
            let after = rv
                .parse::<Revision>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}")))?;
            Watch {
                q,
                initial: Vec::new(),
                after,
                initial_end_bookmark: false,
                bookmarks,
                timeout,
                enc,
            }
        }
        // Without one (or "0"), or with sendInitialEvents: the current state first, as ADDED.
        _ => {
            let q = ListQuery {
                limit: 0,
                continue_token: None,
                exact_revision: None,
                ..q
            };
            let page = call.api.registry.list(call.stored(), &q).await?;
            Watch {
                q,
                initial: page.items,
                after: page.revision,
                initial_end_bookmark: send_initial && bookmarks,
                bookmarks,
                timeout,
                enc,
            }
        }
    };
    start(call, watch).await
}

/// One watcher's stream, as its request asked for it.
struct Watch {
    /// The label and field selectors the events are filtered by.
    q: ListQuery,
    /// Objects sent first, as `ADDED` (the current state; empty when resuming).
    initial: Vec<Value>,
    /// The watch streams the events after this revision.
    after: Revision,
    /// Whether a bookmark annotated `k8s.io/initial-events-end` follows `initial`.
    initial_end_bookmark: bool,
    /// Whether bookmarks are sent (`allowWatchBookmarks`).
    bookmarks: bool,
    /// When the watch ends (`timeoutSeconds`), if ever.
    timeout: Option<Duration>,
    enc: Encoder,
}

/// Starts streaming `watch`: opens the store watch (or answers one `ERROR` event when its
/// revision is compacted) and spawns the task that sends the events.
async fn start(call: &Call, watch: Watch) -> Result<Response, ApiError> {
    let Watch {
        q,
        initial,
        after,
        initial_end_bookmark,
        bookmarks,
        timeout,
        mut enc,
    } = watch;
    let prefix = call.stored().key_prefix(call.namespace());
    let protobuf = enc.protobuf;
    let (tx, rx) = mpsc::channel::<Frames>(64);
    let mut events = match call.api.registry.watch(&prefix, after) {
        Ok(rx) => rx,
        Err(krust_store::Error::Compacted { requested, oldest }) => {
            let status =
                ApiError::expired(format!("too old resource version: {requested} ({oldest})"))
                    .to_status();
            let _ = tx.try_send(vec![enc.event("ERROR", status)]);
            drop(tx);
            return Ok(stream_response(rx, protobuf));
        }
        Err(e) => return Err(crate::registry::store_error(call.stored(), "", e)),
    };
    let watchers = call.api.metrics.watcher(call.target.resource.plural);
    let served: Vec<Value> = initial.into_iter().map(|o| call.served(o)).collect();
    let api = call.api.clone();
    tokio::spawn(async move {
        let _watchers = watchers;
        let mut last = after;
        for obj in served {
            if tx.send(vec![enc.event("ADDED", obj)]).await.is_err() {
                return;
            }
        }
        if initial_end_bookmark && tx.send(vec![enc.bookmark(last, true)]).await.is_err() {
            return;
        }
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        // Bookmarks every minute, and one shortly before a timeout so the client resumes
        // from a recent revision.
        let next_bookmark = || {
            let periodic = tokio::time::Instant::now() + BOOKMARK_EVERY;
            match deadline {
                Some(d) => periodic.min(d.checked_sub(BOOKMARK_BEFORE_END).unwrap_or(d)),
                None => periodic,
            }
        };
        let mut bookmark_at = next_bookmark();
        loop {
            let ended = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                ev = events.recv() => {
                    // The events already waiting go out with it, together: one send, one
                    // write to the connection, one wake-up of the client.
                    let Some(ev) = ev else { return };
                    let (mut chunk, mut size) = (Frames::new(), 0);
                    let mut next = Some(ev);
                    while let Some(ev) = next {
                        last = ev.kv.mod_revision;
                        let from = chunk.len();
                        match filtered(&q, &ev, &api.watch_cache) {
                            Ok(Some((kind, sent))) => enc.sent(kind, sent, &mut chunk),
                            Ok(None) => {}
                            Err(e) => chunk.push(enc.event("ERROR", e.to_status())),
                        }
                        size += chunk[from..].iter().map(Bytes::len).sum::<usize>();
                        next = (size < CHUNK).then(|| events.try_recv().ok()).flatten();
                    }
                    if !chunk.is_empty() && tx.send(chunk).await.is_err() {
                        return;
                    }
                }
                _ = tokio::time::sleep_until(bookmark_at), if bookmarks => {
                    if tx.send(vec![enc.bookmark(last, false)]).await.is_err() {
                        return;
                    }
                    // Past the pre-timeout bookmark, only the periodic ones remain.
                    let now = tokio::time::Instant::now();
                    bookmark_at = next_bookmark().max(now + Duration::from_millis(1));
                    if bookmark_at <= now + BOOKMARK_BEFORE_END {
                        bookmark_at = now + BOOKMARK_EVERY;
                    }
                }
                _ = tx.closed() => return,
                _ = ended => return,
            }
        }
    });
    Ok(stream_response(rx, protobuf))
}

/// The event a watcher with selectors sees for a store event, if any: objects entering
/// the selection are ADDED, objects leaving it DELETED.
fn filtered(
    q: &ListQuery,
    ev: &Event,
    cache: &WatchCache,
) -> Result<Option<(&'static str, Sent)>, ApiError> {
    let now = cache.decode(&ev.kv)?;
    if !q.selects() {
        let kind = match ev.kind {
            EventType::Created => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        };
        return Ok(Some((kind, Sent::Current(now))));
    }
    let now_ok = q.matches(now.selectable());
    Ok(match ev.kind {
        EventType::Created => now_ok.then_some(("ADDED", Sent::Current(now))),
        EventType::Deleted => now_ok.then_some(("DELETED", Sent::Current(now))),
        EventType::Modified => {
            let before = ev.prev.as_ref().map(|kv| cache.decode(kv)).transpose()?;
            match before.filter(|b| q.matches(b.selectable())) {
                Some(_) if now_ok => Some(("MODIFIED", Sent::Current(now))),
                None if now_ok => Some(("ADDED", Sent::Current(now))),
                Some(before) => Some(("DELETED", Sent::Left(before, ev.kv.mod_revision))),
                None => None,
            }
        }
    })
}

/// The streamed answer: JSON lines, or length-delimited protobuf `WatchEvent`s.
fn stream_response(rx: mpsc::Receiver<Frames>, protobuf: bool) -> Response {
    let frames = tokio_stream::wrappers::ReceiverStream::new(rx)
        .flat_map(|frames| futures::stream::iter(frames.into_iter().map(Ok::<_, Infallible>)));
    let body = Body::from_stream(frames);
    let mut r = Response::new(body);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(if protobuf {
            protobuf::WATCH_MEDIA_TYPE
        } else {
            "application/json"
        }),
    );
    r
}
