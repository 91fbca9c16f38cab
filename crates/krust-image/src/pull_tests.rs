use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::*;
use crate::testing::{Entry, config_json, gzip, manifest_json, tar_of};
use crate::unpack::rootfs;

#[derive(Clone, Copy, PartialEq)]
enum Auth {
    Bearer,
    Basic,
}

struct Registry {
    auth: Auth,
    addr: String,
    manifests: HashMap<String, (Vec<u8>, &'static str)>,
    blobs: HashMap<String, Vec<u8>>,
    requests: AtomicUsize,
}

const TOKEN: &str = "Bearer secret-token";

async fn v2(
    State(r): State<Arc<Registry>>,
    Path(rest): Path<String>,
    headers: HeaderMap,
) -> Response {
    r.requests.fetch_add(1, Ordering::SeqCst);
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let (expected, challenge) = match r.auth {
        Auth::Bearer => (
            TOKEN,
            format!(
                r#"Bearer realm="http://{}/token",service="test",scope="repository:a/b:pull""#,
                r.addr
            ),
        ),
        Auth::Basic => ("Basic dTpw", r#"Basic realm="test""#.to_owned()),
    };
    if auth != Some(expected) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
        )
            .into_response();
    }
    let found = match rest
        .split_once("/manifests/")
        .or_else(|| rest.split_once("/blobs/"))
    {
        Some(("a/b", key)) if rest.contains("/manifests/") => r.manifests.get(key).cloned(),
        Some(("a/b", key)) => r
            .blobs
            .get(key)
            .map(|b| (b.clone(), "application/octet-stream")),
        _ => None,
    };
    match found {
        Some((body, media_type)) => ([(header::CONTENT_TYPE, media_type)], body).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn token() -> Response {
    axum::Json(json!({"token": "secret-token"})).into_response()
}

/// A registry serving `a/b:v1`, a linux/amd64 + linux/arm64 index whose arm64 blobs are absent.
async fn serve(auth: Auth, corrupt: bool) -> (Arc<Registry>, Digest) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let layer = tar_of(&[Entry::Dir("etc"), Entry::File("etc/os", b"pulled")]);
    let blob = gzip(&layer);
    let config = config_json(std::slice::from_ref(&layer));
    let manifest = manifest_json(&config, std::slice::from_ref(&blob));
    let arm = manifest_json(b"{}", &[b"arm".to_vec()]);
    let entry = |m: &[u8], arch: &str| json!({"mediaType": oci::MANIFEST_V1, "digest": Digest::of(m), "size": m.len(), "platform": {"os": "linux", "architecture": arch}});
    let index = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": oci::INDEX_V1, "manifests": [entry(&arm, "arm64"), entry(&manifest, "amd64")]})).unwrap();
    let served_layer = if corrupt {
        gzip(b"tampered")
    } else {
        blob.clone()
    };
    let registry = Arc::new(Registry {
        auth,
        addr,
        manifests: HashMap::from([
            ("v1".into(), (index.clone(), oci::INDEX_V1)),
            (Digest::of(&index).to_string(), (index, oci::INDEX_V1)),
            (
                Digest::of(&manifest).to_string(),
                (manifest.clone(), oci::MANIFEST_V1),
            ),
            (Digest::of(&arm).to_string(), (arm, oci::MANIFEST_V1)),
        ]),
        blobs: HashMap::from([
            (Digest::of(&blob).to_string(), served_layer),
            (Digest::of(&config).to_string(), config),
        ]),
        requests: AtomicUsize::new(0),
    });
    let app = axum::Router::new()
        .route("/v2/{*rest}", axum::routing::get(v2))
        .route("/token", axum::routing::get(token))
        .with_state(registry.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (registry, Digest::of(&manifest))
}

fn insecure(r: &Registry, credentials: Option<Credentials>) -> Puller {
    let credentials = credentials
        .into_iter()
        .map(|c| (r.addr.clone(), c))
        .collect();
    Puller::new(PullOptions {
        insecure: vec![r.addr.clone()],
        credentials,
    })
    .unwrap()
}

#[tokio::test]
async fn a_multi_arch_image_is_pulled_for_linux_amd64_through_a_bearer_token() {
    let (r, amd64) = serve(Auth::Bearer, false).await;
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let loaded = insecure(&r, None)
        .pull(&store, &format!("{}/a/b:v1", r.addr))
        .await
        .unwrap();
    assert_eq!(
        loaded,
        Loaded {
            name: format!("{}/a/b:v1", r.addr),
            digest: amd64.clone()
        }
    );
    let dirs = rootfs(&store, &loaded.name).unwrap();
    assert_eq!(std::fs::read(dirs[0].join("etc/os")).unwrap(), b"pulled");
    let by_digest = insecure(&r, None)
        .pull(&store, &format!("{}/a/b@{amd64}", r.addr))
        .await
        .unwrap();
    assert_eq!(by_digest.digest, amd64);
}

#[tokio::test]
async fn basic_auth_credentials_answer_a_basic_challenge() {
    let (r, _) = serve(Auth::Basic, false).await;
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let image = format!("{}/a/b:v1", r.addr);
    assert!(insecure(&r, None).pull(&store, &image).await.is_err());
    let creds = Credentials {
        username: "u".into(),
        password: "p".into(),
    };
    insecure(&r, Some(creds))
        .pull(&store, &image)
        .await
        .unwrap();
    assert_eq!(store.list().unwrap().len(), 1);
}

#[tokio::test]
async fn a_blob_that_does_not_match_its_digest_fails_the_pull_and_names_nothing() {
    let (r, _) = serve(Auth::Bearer, true).await;
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let err = insecure(&r, None)
        .pull(&store, &format!("{}/a/b:v1", r.addr))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    assert!(store.list().unwrap().is_empty());
}

#[tokio::test]
async fn a_registry_not_named_insecure_is_only_spoken_to_over_https() {
    let (r, _) = serve(Auth::Bearer, false).await;
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let puller = Puller::new(PullOptions::default()).unwrap();
    assert!(matches!(
        puller.pull(&store, &format!("{}/a/b:v1", r.addr)).await,
        Err(Error::Http(_))
    ));
    assert_eq!(r.requests.load(Ordering::SeqCst), 0);
}
