//! `krust image push`: an image of the store to an OCI registry, as the distribution spec's
//! push workflow (`spec.md`) and `docker push` do it: for each blob (layers, then config) a
//! `HEAD /v2/<name>/blobs/<digest>`, and when absent a monolithic upload (`POST
//! /v2/<name>/blobs/uploads/`, then `PUT <location>?digest=<digest>` with the content); then
//! `PUT /v2/<name>/manifests/<tag>` of the manifest exactly as stored, so the registry's
//! digest is the store's. Authentication answers challenges as [`crate::auth`] says; plain
//! HTTP for the registries named insecure (loopback ones always, see
//! [`crate::build::insecure_for`]). Blobs are read whole into memory for their upload.

use std::io::Write;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};

use crate::auth::Challenge;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::oci;
use crate::pull::PullOptions;
use crate::reference::{DOCKER_HUB, Reference};
use crate::store::ImageStore;

/// Pushes the store's image `source` as `target` (a reference with a tag; `latest` when
/// none), printing docker push's lines to `out`. Returns the manifest digest.
pub async fn push(
    store: &ImageStore,
    source: &str,
    target: &str,
    options: &PullOptions,
    out: &mut dyn Write,
) -> Result<Digest> {
    let digest = store.resolve(source).map_err(|_| {
        Error::Build(format!(
            "An image does not exist locally with the tag: {source}"
        ))
    })?;
    let manifest_bytes = store.read_blob(&digest)?;
    let manifest = store.manifest(&digest)?;
    let reference = Reference::parse(target)?;
    let tag = reference.tag.clone().unwrap_or_else(|| "latest".into());
    let insecure = options.insecure.contains(&reference.registry)
        || crate::build::insecure_for(target).is_some();
    let host = if reference.registry == DOCKER_HUB {
        "registry-1.docker.io"
    } else {
        &reference.registry
    };
    let scheme = if insecure { "http" } else { "https" };
    let origin = format!("{scheme}://{host}");
    let mut session = Session {
        client: reqwest::Client::builder().user_agent("krust").build()?,
        auth: None,
        creds: options.credentials.get(&reference.registry).cloned(),
    };
    writeln!(out, "The push refers to repository [{}]", reference.name())?;
    let base = format!("{origin}/v2/{}", reference.repository);
    for desc in manifest
        .layers
        .iter()
        .chain(std::iter::once(&manifest.config))
    {
        let short = &desc.digest.hex()[..12];
        let head = session
            .send(
                Method::HEAD,
                &format!("{base}/blobs/{}", desc.digest),
                None,
                None,
            )
            .await?;
        if head.status().is_success() {
            writeln!(out, "{short}: Layer already exists")?;
            continue;
        }
        let started = session
            .send(
                Method::POST,
                &format!("{base}/blobs/uploads/"),
                None,
                Some(Vec::new()),
            )
            .await?;
        let location = match (started.status(), started.headers().get(LOCATION)) {
            (StatusCode::ACCEPTED, Some(l)) => l.to_str().unwrap_or_default().to_owned(),
            (s, _) => return Err(registry_error(started, s, "starting an upload").await),
        };
        let location = if location.starts_with('/') {
            format!("{origin}{location}")
        } else {
            location
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{sep}digest={}", desc.digest);
        let body = store.read_blob(&desc.digest)?;
        let put = session
            .send(
                Method::PUT,
                &url,
                Some("application/octet-stream"),
                Some(body),
            )
            .await?;
        match put.status() {
            StatusCode::CREATED | StatusCode::NO_CONTENT | StatusCode::OK => {}
            s => return Err(registry_error(put, s, "uploading a blob").await),
        }
        writeln!(out, "{short}: Pushed")?;
    }
    let media_type = manifest
        .media_type
        .clone()
        .unwrap_or_else(|| oci::MANIFEST_V1.into());
    let size = manifest_bytes.len();
    let put = session
        .send(
            Method::PUT,
            &format!("{base}/manifests/{tag}"),
            Some(&media_type),
            Some(manifest_bytes),
        )
        .await?;
    match put.status() {
        StatusCode::CREATED | StatusCode::OK | StatusCode::ACCEPTED => {}
        s => return Err(registry_error(put, s, "putting the manifest").await),
    }
    writeln!(out, "{tag}: digest: {digest} size: {size}")?;
    Ok(digest)
}

async fn registry_error(resp: reqwest::Response, status: StatusCode, what: &str) -> Error {
    let url = resp.url().to_string();
    let body = resp.text().await.unwrap_or_default();
    Error::Registry(format!("{what} at {url}: {status}: {}", body.trim()))
}

/// Requests of one push, answering authentication challenges once each.
struct Session {
    client: reqwest::Client,
    auth: Option<String>,
    creds: Option<crate::auth::Credentials>,
}

impl Session {
    async fn send(
        &mut self,
        method: Method,
        url: &str,
        content_type: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response> {
        for attempt in 0..2 {
            let mut req = self.client.request(method.clone(), url);
            if let Some(t) = content_type {
                req = req.header(CONTENT_TYPE, t);
            }
            if let Some(b) = &body {
                req = req.body(b.clone());
            }
            if let Some(a) = &self.auth {
                req = req.header(AUTHORIZATION, a);
            }
            let resp = req.send().await?;
            let challenge = resp
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|h| h.to_str().ok())
                .and_then(Challenge::parse);
            match (resp.status(), challenge) {
                (StatusCode::UNAUTHORIZED, Some(c)) if attempt == 0 => {
                    let answer = c.answer(&self.client, self.creds.as_ref()).await;
                    self.auth = Some(answer.map_err(|e| {
                        Error::Build(format!("unauthorized: authentication required ({e})"))
                    })?);
                }
                (StatusCode::UNAUTHORIZED, _) => {
                    return Err(Error::Build(format!(
                        "unauthorized: authentication required ({url})"
                    )));
                }
                _ => return Ok(resp),
            }
        }
        Err(Error::Registry(format!("{url}: still unauthorized")))
    }
}
