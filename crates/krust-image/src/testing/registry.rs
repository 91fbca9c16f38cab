//! A registry for tests, served on `127.0.0.1` (never another address): the distribution
//! spec's pull endpoints (`GET /v2/`, `GET /v2/<name>/manifests/<tag or digest>`,
//! `GET /v2/<name>/blobs/<digest>`, HEAD of both) and its push endpoints (monolithic blob
//! uploads: `POST /v2/<name>/blobs/uploads/`, `PUT <location>?digest=`; `PUT
//! /v2/<name>/manifests/<tag>`), optionally behind HTTP basic auth, with errors in the
//! spec's JSON form (`MANIFEST_UNKNOWN`, `BLOB_UNKNOWN`, `UNAUTHORIZED`). Images are pushed
//! in memory ([`Registry::push`]); manifest requests are counted per repository so tests can
//! tell whether a client pulled. Pullers must name its [`Registry::addr`] insecure (plain HTTP).
//!
//! Must be started within a Tokio runtime; it stops when dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::image::Image;
use super::{gzip, manifest_json};
use crate::auth::Credentials;
use crate::digest::Digest;
use crate::oci;

/// A registry serving pushed images on loopback.
pub struct Registry {
    addr: String,
    state: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Content {
    /// `repository/reference` → (bytes, media type), by tag and by digest.
    manifests: HashMap<String, (Vec<u8>, String)>,
    /// digest → bytes (every repository shares them).
    blobs: HashMap<String, Vec<u8>>,
    /// repository → manifest GETs.
    manifest_requests: HashMap<String, usize>,
}

struct Shared {
    auth: Option<String>,
    content: Mutex<Content>,
}

impl Registry {
    /// Starts a registry on `127.0.0.1:<free port>`; with `credentials`, every request must
    /// carry them as HTTP basic auth (else 401 and a `Basic` challenge).
    pub async fn start(credentials: Option<Credentials>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap().to_string();
        let state = Arc::new(Shared {
            auth: credentials.map(|c| c.basic()),
            content: Mutex::default(),
        });
        let app = axum::Router::new()
            .route("/v2/", axum::routing::get(ping))
            .route(
                "/v2/{*rest}",
                axum::routing::get(v2).post(upload_start).put(upload_put),
            )
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state, task }
    }

    /// `127.0.0.1:<port>`: the registry part of references to its images.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Pushes `image` (layers gzipped) as `repository:tag` (`busybox:1`, `a/b:v2`); returns
    /// the manifest digest. The full reference is `<addr>/<repository>:<tag>`.
    pub fn push(&self, repository_tag: &str, image: &Image) -> Digest {
        let (repository, tag) = repository_tag.rsplit_once(':').expect("repository:tag");
        let blobs: Vec<Vec<u8>> = image.layers.iter().map(|l| gzip(l)).collect();
        let manifest = manifest_json(&image.config, &blobs);
        let digest = Digest::of(&manifest);
        let mut content = self.content();
        for b in blobs.into_iter().chain([image.config.clone()]) {
            content.blobs.insert(Digest::of(&b).to_string(), b);
        }
        for reference in [tag.to_owned(), digest.to_string()] {
            content.manifests.insert(
                format!("{repository}/{reference}"),
                (manifest.clone(), oci::MANIFEST_V1.to_owned()),
            );
        }
        digest
    }

    /// Removes the tag `repository:tag` (its manifest stays reachable by digest).
    pub fn untag(&self, repository_tag: &str) {
        let (repository, tag) = repository_tag.rsplit_once(':').expect("repository:tag");
        self.content()
            .manifests
            .remove(&format!("{repository}/{tag}"));
    }

    /// The manifest digest `repository:tag` names, if pushed.
    pub fn manifest_digest(&self, repository_tag: &str) -> Option<Digest> {
        let (repository, tag) = repository_tag.rsplit_once(':').expect("repository:tag");
        let content = self.content();
        let (body, _) = content.manifests.get(&format!("{repository}/{tag}"))?;
        Some(Digest::of(body))
    }

    /// How many manifest GETs `repository` was asked (answered or not, authorized or not).
    pub fn manifest_requests(&self, repository: &str) -> usize {
        self.content()
            .manifest_requests
            .get(repository)
            .copied()
            .unwrap_or(0)
    }

    fn content(&self) -> std::sync::MutexGuard<'_, Content> {
        self.state.content.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"errors": [{"code": code, "message": message, "detail": null}]});
    (status, axum::Json(body)).into_response()
}

fn unauthorized(state: &Shared, headers: &HeaderMap) -> Option<Response> {
    let expected = state.auth.as_deref()?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    (given != Some(expected)).then(|| {
        let mut r = error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "authentication required",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"krust-test\""),
        );
        r
    })
}

async fn ping(State(state): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    unauthorized(&state, &headers).unwrap_or_else(|| axum::Json(json!({})).into_response())
}

async fn v2(
    State(state): State<Arc<Shared>>,
    Path(rest): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some((repository, _)) = rest.split_once("/manifests/") {
        let mut content = state.content.lock().unwrap_or_else(|e| e.into_inner());
        *content
            .manifest_requests
            .entry(repository.to_owned())
            .or_default() += 1;
    }
    if let Some(denied) = unauthorized(&state, &headers) {
        return denied;
    }
    let content = state.content.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((repository, reference)) = rest.split_once("/manifests/") {
        return match content.manifests.get(&format!("{repository}/{reference}")) {
            Some((body, media_type)) => {
                let digest = Digest::of(body).to_string();
                (
                    [
                        (header::CONTENT_TYPE, media_type.to_string()),
                        (
                            header::HeaderName::from_static("docker-content-digest"),
                            digest,
                        ),
                    ],
                    body.clone(),
                )
                    .into_response()
            }
            None => error(
                StatusCode::NOT_FOUND,
                "MANIFEST_UNKNOWN",
                "manifest unknown",
            ),
        };
    }
    match rest
        .split_once("/blobs/")
        .and_then(|(_, d)| content.blobs.get(d))
    {
        Some(body) => (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            body.clone(),
        )
            .into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
            "blob unknown to registry",
        ),
    }
}

/// `POST /v2/<name>/blobs/uploads/`: an upload session at a relative location.
async fn upload_start(
    State(state): State<Arc<Shared>>,
    Path(rest): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(denied) = unauthorized(&state, &headers) {
        return denied;
    }
    let Some(repository) = rest.strip_suffix("/blobs/uploads/") else {
        return error(StatusCode::NOT_FOUND, "NAME_UNKNOWN", "unknown endpoint");
    };
    let id = Digest::of(format!("{repository}{:?}", std::time::SystemTime::now()).as_bytes());
    let location = format!("/v2/{repository}/blobs/uploads/{}", &id.hex()[..16]);
    (StatusCode::ACCEPTED, [(header::LOCATION, location)]).into_response()
}

/// `PUT <upload location>?digest=` (a monolithic blob) and `PUT /v2/<name>/manifests/<tag>`.
async fn upload_put(
    State(state): State<Arc<Shared>>,
    Path(rest): Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(denied) = unauthorized(&state, &headers) {
        return denied;
    }
    let mut content = state.content.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((repository, tag)) = rest.split_once("/manifests/") {
        let media_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(oci::MANIFEST_V1)
            .to_owned();
        let digest = Digest::of(&body);
        for reference in [tag.to_owned(), digest.to_string()] {
            content.manifests.insert(
                format!("{repository}/{reference}"),
                (body.to_vec(), media_type.clone()),
            );
        }
        return (
            StatusCode::CREATED,
            [(
                header::HeaderName::from_static("docker-content-digest"),
                digest.to_string(),
            )],
        )
            .into_response();
    }
    let expected = query
        .unwrap_or_default()
        .split('&')
        .find_map(|kv| kv.strip_prefix("digest=").map(str::to_owned))
        .map(|d| d.replace("%3A", ":"));
    match expected {
        Some(d) if rest.contains("/blobs/uploads/") && Digest::of(&body).to_string() == d => {
            content.blobs.insert(d, body.to_vec());
            StatusCode::CREATED.into_response()
        }
        _ => error(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            "provided digest did not match uploaded content",
        ),
    }
}
