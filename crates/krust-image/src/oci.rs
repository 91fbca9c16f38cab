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

/// The config fields krust reads: the layers' diff ids and what a container runs.
#[derive(Clone, Debug, Deserialize)]
pub struct Config {
    /// The uncompressed layers.
    pub rootfs: RootFs,
    /// The execution defaults (absent in some configs).
    #[serde(default)]
    pub config: Option<RunConfig>,
}

/// A config's execution defaults (`config` of the OCI image config).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    /// `KEY=value` environment.
    #[serde(default)]
    pub env: Option<Vec<String>>,
    /// The entrypoint.
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// The default arguments.
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    /// The working directory.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// `user`, `uid`, `user:group` or `uid:gid`.
    #[serde(default)]
    pub user: Option<String>,
    /// The signal that stops a container (`SIGQUIT`, `3`…); SIGTERM when absent.
    #[serde(default)]
    pub stop_signal: Option<String>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_gives_its_diff_ids_and_execution_defaults() {
        let json = br#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["sh"],"WorkingDir":"/w"},
            "rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]}}"#;
        let c: Config = serde_json::from_slice(json).unwrap();
        assert_eq!(c.rootfs.diff_ids.len(), 1);
        let run = c.config.unwrap();
        assert_eq!(
            (run.env.unwrap(), run.cmd.unwrap()),
            (vec!["PATH=/bin".to_owned()], vec!["sh".to_owned()])
        );
        assert_eq!(
            (run.working_dir.as_deref(), run.entrypoint),
            (Some("/w"), None)
        );
    }

    #[test]
    fn the_linux_amd64_manifest_of_an_index_is_chosen() {
        let d = |arch: &str, hex: char| Descriptor {
            media_type: MANIFEST_V1.into(),
            digest: Digest::parse(&format!("sha256:{}", hex.to_string().repeat(64))).unwrap(),
            size: 1,
            platform: Some(Platform {
                os: "linux".into(),
                architecture: arch.into(),
                variant: None,
            }),
            annotations: BTreeMap::new(),
        };
        let index = Index {
            schema_version: 2,
            media_type: None,
            manifests: vec![d("arm64", 'a'), d("amd64", 'b')],
        };
        assert_eq!(
            select_platform(&index, "linux", "amd64")
                .unwrap()
                .digest
                .hex(),
            "b".repeat(64)
        );
        assert!(select_platform(&index, "linux", "s390x").is_err());
    }
}
