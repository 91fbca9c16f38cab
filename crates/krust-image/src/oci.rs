//! The OCI image spec's documents (`manifest.md`, `image-index.md`, `config.md`), only the
//! fields the store reads; docker's schema2 manifest and manifest list have the same shape.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, Result};

/// OCI image manifest.
pub const MANIFEST_V1: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const INDEX_V1: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image config.
pub const CONFIG_V1: &str = "application/vnd.oci.image.config.v1+json";
/// Docker schema2 manifest.
pub const DOCKER_MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST_V2: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
/// Uncompressed layer.
pub const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// Gzip layer.
pub const LAYER_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Zstd layer.
pub const LAYER_TAR_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// A content descriptor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// What the content is.
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    /// Its length in bytes.
    pub size: u64,
    /// For index entries: the platform of the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Free-form annotations (image names in OCI layouts).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An index entry's platform.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// `amd64`, `arm64`…
    pub architecture: String,
    /// `v8`…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An image manifest: one config and the ordered layers, bottom first.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// OCI or docker schema2 manifest media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The image config.
    pub config: Descriptor,
    /// The layers, bottom first.
    pub layers: Vec<Descriptor>,
}

/// An image index (or docker manifest list), and an OCI layout's `index.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Always 2.
    pub schema_version: u32,
    /// OCI index or docker manifest list media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The manifests.
    pub manifests: Vec<Descriptor>,
}

/// The config fields the store reads: the layers' diff ids.
#[derive(Clone, Debug, Deserialize)]
pub struct Config {
    /// The uncompressed layers.
    pub rootfs: RootFs,
}

/// `rootfs` of a config.
#[derive(Clone, Debug, Deserialize)]
pub struct RootFs {
    /// The digests of the uncompressed layer tars, bottom first.
    pub diff_ids: Vec<Digest>,
}

/// Whether a media type names an index or manifest list.
pub fn is_index(media_type: &str) -> bool {
    media_type == INDEX_V1 || media_type == DOCKER_MANIFEST_LIST_V2
}

/// The manifest of an index for `os`/`architecture` (linux/amd64 on a node of today).
pub fn select_platform<'a>(
    index: &'a Index,
    os: &str,
    architecture: &str,
) -> Result<&'a Descriptor> {
    index
        .manifests
        .iter()
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == os && p.architecture == architecture)
        })
        .ok_or_else(|| Error::NotFound(format!("no {os}/{architecture} manifest in the index")))
}
