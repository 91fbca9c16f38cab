//! `krust image load`: archives written by `docker save` (the old format: `manifest.json`,
//! `<id>/layer.tar`, `<id>.json` configs, repeated layers as symlinks; and Docker 25+, whose
//! `manifest.json` points into an OCI layout inside) and OCI image-layout archives (`oci-layout`,
//! `index.json`, `blobs/sha256/…`, as the OCI image spec's `image-layout.md`), plain or gzip or
//! zstd compressed as a whole, with uncompressed, gzip or zstd layers.
//!
//! Every file of the archive is streamed into the store as a blob (nothing is held in memory
//! but small JSON documents); what no image ends up referencing is collected at the end. Blobs
//! of an OCI layout must hash to their file names. A docker archive's image gets an OCI
//! manifest written for it; an OCI index is resolved to its linux/amd64 manifest.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::oci::{self, Descriptor, Index, Manifest};
use crate::store::{ImageStore, image_key};
use crate::unpack::decompress;

/// The OCI annotation of a reference name (often only a tag).
const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// containerd's annotation of the full image name.
const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// One image an archive held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The index key it is stored under: a normalized reference, or its manifest digest when
    /// the archive gave it no name.
    pub name: String,
    /// Its manifest digest.
    pub digest: Digest,
}

/// Loads an archive file (see [`load`]).
pub fn load_file(store: &ImageStore, path: &Path) -> Result<Vec<Loaded>> {
    load(store, File::open(path)?)
}

/// Loads every image of a docker-save or OCI-layout archive into the store and names them.
pub fn load(store: &ImageStore, archive: impl Read + 'static) -> Result<Vec<Loaded>> {
    let _guard = store.lock();
    let loaded = load_locked(store, archive);
    let collected = store.gc_locked();
    let loaded = loaded?;
    collected?;
    Ok(loaded)
}

/// A file of the archive, stored as a blob.
#[derive(Clone)]
struct Stored {
    digest: Digest,
    size: u64,
}

struct Files {
    files: BTreeMap<PathBuf, Stored>,
    links: BTreeMap<PathBuf, PathBuf>,
}

impl Files {
    fn get(&self, path: &str) -> Result<&Stored> {
        let mut p = normalize(Path::new(path));
        for _ in 0..16 {
            if let Some(s) = self.files.get(&p) {
                return Ok(s);
            }
            match self.links.get(&p) {
                Some(target) => p = target.clone(),
                None => break,
            }
        }
        Err(Error::Archive(format!("no file {path}")))
    }
}

fn load_locked(store: &ImageStore, archive: impl Read + 'static) -> Result<Vec<Loaded>> {
    let files = read_files(store, decompress(archive)?)?;
    let json = |path: &str| -> Result<Vec<u8>> { store.read_blob(&files.get(path)?.digest) };
    if files.get("manifest.json").is_ok() {
        let entries: Vec<DockerEntry> = serde_json::from_slice(&json("manifest.json")?)?;
        entries
            .iter()
            .map(|e| load_docker(store, &files, e))
            .collect::<Result<Vec<_>>>()
            .map(|v| v.concat())
    } else if files.get("index.json").is_ok() {
        let index: Index = serde_json::from_slice(&json("index.json")?)?;
        index.manifests.iter().map(|d| load_oci(store, d)).collect()
    } else {
        Err(Error::Archive(
            "neither manifest.json (docker save) nor index.json (OCI layout)".into(),
        ))
    }
}

/// Streams every regular file into the store; records symlinks.
fn read_files(store: &ImageStore, tar: impl Read) -> Result<Files> {
    let mut files = Files {
        files: BTreeMap::new(),
        links: BTreeMap::new(),
    };
    for entry in tar::Archive::new(tar).entries()? {
        let mut entry = entry?;
        let path = normalize(&entry.path()?);
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry.link_name()?.unwrap_or_default();
            let base = if kind.is_symlink() {
                path.parent().unwrap_or(Path::new(""))
            } else {
                Path::new("")
            };
            let target = normalize(&base.join(target));
            files.links.insert(path, target);
        } else if kind.is_file() {
            let (digest, size) = store.write_blob(None, &mut entry)?;
            let mut parts = path.iter().map(|c| c.to_string_lossy());
            if let (Some(a), Some(b), Some(hex), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
                && a == "blobs"
            {
                Digest::parse(&format!("{b}:{hex}"))?.verify(&digest)?;
            }
            files.files.insert(path, Stored { digest, size });
        }
    }
    Ok(files)
}

/// An archive path made relative, `.` and `..` resolved lexically (never above the top).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// One image of a docker `manifest.json`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn load_docker(store: &ImageStore, files: &Files, entry: &DockerEntry) -> Result<Vec<Loaded>> {
    let config = files.get(&entry.config)?;
    if let Some(digest) = oci_manifest_of(store, files, &config.digest) {
        return name_all(store, entry, &digest);
    }
    let mut layers = Vec::new();
    for path in &entry.layers {
        let layer = files.get(path)?;
        let media_type = sniff_layer(store, &layer.digest)?;
        layers.push(descriptor(media_type, layer));
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(oci::MANIFEST_V1.into()),
        config: descriptor(oci::CONFIG_V1, config),
        layers,
    };
    check_layers(store, &manifest)?;
    let digest = store.put_blob(&serde_json::to_vec(&manifest)?)?;
    name_all(store, entry, &digest)
}

/// The manifest of a Docker 25+ archive's OCI layout for this config, kept as it is so that
/// a `save` and `load` round trip keeps the manifest digest.
fn oci_manifest_of(store: &ImageStore, files: &Files, config: &Digest) -> Option<Digest> {
    let index: Index = serde_json::from_slice(
        &store
            .read_blob(&files.get("index.json").ok()?.digest)
            .ok()?,
    )
    .ok()?;
    index.manifests.iter().find_map(|d| {
        let m = store.manifest(&d.digest).ok()?;
        (m.config.digest == *config).then(|| d.digest.clone())
    })
}

/// Names a docker archive entry's image by its `RepoTags` (by digest when it has none).
fn name_all(store: &ImageStore, entry: &DockerEntry, digest: &Digest) -> Result<Vec<Loaded>> {
    check_layers(store, &store.manifest(digest)?)?;
    let tags = entry.repo_tags.clone().unwrap_or_default();
    let names = if tags.is_empty() {
        vec![digest.to_string()]
    } else {
        tags
    };
    names.iter().map(|n| name_image(store, n, digest)).collect()
}

fn load_oci(store: &ImageStore, desc: &Descriptor) -> Result<Loaded> {
    let mut digest = desc.digest.clone();
    let mut media_type = desc.media_type.clone();
    while oci::is_index(&media_type) {
        let index: Index = serde_json::from_slice(&store.read_blob(&digest)?)?;
        let chosen = oci::select_platform(&index, "linux", "amd64")?;
        (digest, media_type) = (chosen.digest.clone(), chosen.media_type.clone());
    }
    check_layers(store, &store.manifest(&digest)?)?;
    let name = desc
        .annotations
        .get(CONTAINERD_NAME)
        .or_else(|| desc.annotations.get(REF_NAME));
    match name.filter(|n| n.contains(['/', ':'])) {
        Some(n) => name_image(store, n, &digest),
        None => name_image(store, digest.as_str(), &digest),
    }
}

fn name_image(store: &ImageStore, name: &str, digest: &Digest) -> Result<Loaded> {
    let name = image_key(name)?;
    store.tag_locked(&name, digest)?;
    Ok(Loaded {
        name,
        digest: digest.clone(),
    })
}

/// A config's diff ids must match the manifest's layers one for one.
fn check_layers(store: &ImageStore, manifest: &Manifest) -> Result<()> {
    let diff_ids = store.config(manifest)?.rootfs.diff_ids;
    if diff_ids.len() != manifest.layers.len() {
        return Err(Error::Archive(format!(
            "{} layers, {} diff ids",
            manifest.layers.len(),
            diff_ids.len()
        )));
    }
    Ok(())
}

fn descriptor(media_type: &str, stored: &Stored) -> Descriptor {
    Descriptor {
        media_type: media_type.into(),
        digest: stored.digest.clone(),
        size: stored.size,
        platform: None,
        annotations: BTreeMap::new(),
    }
}

/// A layer's media type from its first bytes.
fn sniff_layer(store: &ImageStore, digest: &Digest) -> Result<&'static str> {
    let mut head = [0u8; 4];
    let n = store.open_blob(digest)?.read(&mut head)?;
    Ok(match &head[..n] {
        [0x1f, 0x8b, ..] => oci::LAYER_TAR_GZIP,
        [0x28, 0xb5, 0x2f, 0xfd] => oci::LAYER_TAR_ZSTD,
        _ => oci::LAYER_TAR,
    })
}

#[cfg(test)]
#[path = "archive_tests.rs"]
mod tests;
