//! Pulls from OCI registries, as the distribution spec's pull workflow
//! (`spec.md`: `GET /v2/<name>/manifests/<reference>`, `GET /v2/<name>/blobs/<digest>`):
//! a multi-arch index resolved to linux/amd64, every manifest and blob verified against its
//! digest (and a blob cut off at its announced size), authentication answered as [`crate::auth`] says. HTTPS always, except for the
//! registries named insecure (`localhost:5000`), spoken to over plain HTTP.
//!
//! Blobs are written without the store's lock; the final naming checks they are all present,
//! so a garbage collection racing a pull fails the pull rather than leaving a broken image.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};

use crate::archive::Loaded;
use crate::auth::{Challenge, Credentials};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::oci::{self, Descriptor, Index, Manifest};
use crate::reference::{DOCKER_HUB, Reference};
use crate::store::{ImageStore, image_key};

const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// The largest manifest or index accepted, as containerd's limit.
const MAX_MANIFEST: u64 = 4 << 20;

/// How to reach registries.
#[derive(Clone, Debug, Default)]
pub struct PullOptions {
    /// Registries (`host:port` as in references) spoken to over plain HTTP.
    pub insecure: Vec<String>,
    /// Credentials by registry.
    pub credentials: BTreeMap<String, Credentials>,
}

/// A registry client feeding an [`ImageStore`].
#[derive(Clone, Debug)]
pub struct Puller {
    client: reqwest::Client,
    options: PullOptions,
}

impl Puller {
    /// A puller with the system's root certificates.
    pub fn new(options: PullOptions) -> Result<Self> {
        let client = reqwest::Client::builder().user_agent("krust").build()?;
        Ok(Self { client, options })
    }

    /// Pulls an image (`nginx`, `localhost:5000/a/b@sha256:…`) into the store and names it
    /// by its normalized reference.
    pub async fn pull(&self, store: &ImageStore, image: &str) -> Result<Loaded> {
        let reference = Reference::parse(image)?;
        let insecure = self.options.insecure.contains(&reference.registry);
        let host = if reference.registry == DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            &reference.registry
        };
        let scheme = if insecure { "http" } else { "https" };
        let mut session = Session {
            client: &self.client,
            base: format!("{scheme}://{host}/v2/{}", reference.repository),
            auth: None,
            creds: self.options.credentials.get(&reference.registry),
        };
        let tag_or_digest = match (&reference.digest, &reference.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".into(),
        };
        let (mut bytes, mut media_type) = session
            .manifest(&tag_or_digest, reference.digest.as_ref())
            .await?;
        if oci::is_index(&media_type) {
            let index: Index = serde_json::from_slice(&bytes)?;
            let chosen = oci::select_platform(&index, "linux", "amd64")?
                .digest
                .clone();
            (bytes, media_type) = session.manifest(chosen.as_str(), Some(&chosen)).await?;
        }
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Registry(format!("{media_type} is not an image manifest: {e}")))?;
        for desc in std::iter::once(&manifest.config).chain(&manifest.layers) {
            session.blob(store, desc).await?;
        }
        let digest = store.put_blob(&bytes)?;
        let name = image_key(&reference.to_string())?;
        store.tag(&name, &digest)?;
        Ok(Loaded { name, digest })
    }
}

struct Session<'a> {
    client: &'a reqwest::Client,
    base: String,
    auth: Option<String>,
    creds: Option<&'a Credentials>,
}

impl Session<'_> {
    /// GETs `base/path`, answering one authentication challenge.
    async fn get(&mut self, path: &str, accept: Option<&str>) -> Result<reqwest::Response> {
        let url = format!("{}/{path}", self.base);
        for attempt in 0..2 {
            let mut req = self.client.get(&url);
            if let Some(a) = accept {
                req = req.header(ACCEPT, a);
            }
            if let Some(auth) = &self.auth {
                req = req.header(AUTHORIZATION, auth);
            }
            let resp = req.send().await?;
            let challenge = resp
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|h| h.to_str().ok())
                .and_then(Challenge::parse);
            match (resp.status(), challenge) {
                (StatusCode::UNAUTHORIZED, Some(c)) if attempt == 0 => {
                    self.auth = Some(c.answer(self.client, self.creds).await?);
                }
                (StatusCode::NOT_FOUND, _) => return Err(Error::NotFound(url)),
                (s, _) if s.is_success() => return Ok(resp),
                (s, _) => return Err(Error::Registry(format!("{url}: {s}"))),
            }
        }
        Err(Error::Registry(format!("{url}: still unauthorized")))
    }

    /// A manifest or index and its media type, verified when its digest is known.
    async fn manifest(
        &mut self,
        reference: &str,
        digest: Option<&Digest>,
    ) -> Result<(Vec<u8>, String)> {
        let resp = self
            .get(&format!("manifests/{reference}"), Some(MANIFEST_ACCEPT))
            .await?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header(CONTENT_TYPE.as_str())
            .map(|t| t.split(';').next().unwrap_or("").trim().to_owned());
        let announced = header("docker-content-digest").and_then(|d| Digest::parse(&d).ok());
        if resp.content_length().is_some_and(|n| n > MAX_MANIFEST) {
            return Err(Error::Registry(format!(
                "manifest {reference} larger than {MAX_MANIFEST} bytes"
            )));
        }
        let bytes = resp.bytes().await?.to_vec();
        if let Some(expected) = digest.or(announced.as_ref()) {
            expected.verify(&Digest::of(&bytes))?;
        }
        let media_type = match content_type.filter(|t| t.starts_with("application/vnd.")) {
            Some(t) => t,
            None => serde_json::from_slice::<serde_json::Value>(&bytes)?["mediaType"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        };
        Ok((bytes, media_type))
    }

    /// Downloads a blob unless present, verifying its digest.
    async fn blob(&mut self, store: &ImageStore, desc: &Descriptor) -> Result<()> {
        if store.has_blob(&desc.digest) {
            return Ok(());
        }
        let mut resp = self.get(&format!("blobs/{}", desc.digest), None).await?;
        let mut writer = store.blob_writer()?;
        let mut len = 0;
        while let Some(chunk) = resp.chunk().await? {
            len += chunk.len() as u64;
            if len > desc.size {
                return Err(Error::Registry(format!(
                    "blob {} longer than its {} bytes",
                    desc.digest, desc.size
                )));
            }
            writer.write(&chunk)?;
        }
        writer.commit(&desc.digest)
    }
}

#[cfg(test)]
#[path = "pull_tests.rs"]
mod tests;
