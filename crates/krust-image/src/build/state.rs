//! An image as a build has it between steps: the full config document (docker's image
//! config: `config` with Env, Cmd, Entrypoint, WorkingDir, User, Labels, ExposedPorts,
//! StopSignal, Shell; `rootfs.diff_ids`; `history`) and its layers. Its id is the digest of
//! the config, as docker's image ids are.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::layer::Layer;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::oci::{self, Manifest};
use crate::store::ImageStore;
use crate::unpack;

/// An image under construction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The image config document.
    pub config: Value,
    /// Its layers, bottom first (one per diff id).
    pub layers: Vec<Layer>,
}

impl State {
    /// `FROM scratch`.
    pub fn scratch() -> State {
        State {
            config: json!({
                "architecture": "amd64",
                "os": "linux",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": []},
                "history": [],
            }),
            layers: Vec::new(),
        }
    }

    /// An image of the store.
    pub fn of_image(store: &ImageStore, digest: &Digest) -> Result<State> {
        let manifest = store.manifest(digest)?;
        let config: Value = serde_json::from_slice(&store.read_blob(&manifest.config.digest)?)?;
        let diff_ids: Vec<Digest> = serde_json::from_value(config["rootfs"]["diff_ids"].clone())?;
        if diff_ids.len() != manifest.layers.len() {
            return Err(Error::Archive(format!(
                "{} layers but {} diff ids",
                manifest.layers.len(),
                diff_ids.len()
            )));
        }
        let layers = manifest
            .layers
            .into_iter()
            .zip(diff_ids)
            .map(|(descriptor, diff_id)| Layer {
                descriptor,
                diff_id,
            })
            .collect();
        Ok(State { config, layers })
    }

    /// The image id: the config's digest.
    pub fn id(&self) -> Digest {
        Digest::of(&serde_json::to_vec(&self.config).unwrap_or_default())
    }

    /// The execution config (`config` of the document), created when absent.
    pub fn run_config(&mut self) -> &mut serde_json::Map<String, Value> {
        if !self.config["config"].is_object() {
            self.config["config"] = json!({});
        }
        self.config["config"].as_object_mut().expect("an object")
    }

    /// A string field of the execution config.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.config["config"][key].as_str()
    }

    /// The `KEY=value` environment.
    pub fn env(&self) -> Vec<String> {
        serde_json::from_value(self.config["config"]["Env"].clone()).unwrap_or_default()
    }

    /// Sets `KEY=value` in the environment, replacing an earlier value of KEY.
    pub fn set_env(&mut self, key: &str, value: &str) {
        let mut env = self.env();
        let entry = format!("{key}={value}");
        match env.iter_mut().find(|e| e.split('=').next() == Some(key)) {
            Some(e) => *e = entry,
            None => env.push(entry),
        }
        self.run_config().insert("Env".into(), json!(env));
    }

    /// Adds a layer and its history entry.
    pub fn push_layer(&mut self, layer: Layer, created_by: &str) {
        self.layers.push(layer);
        let diff_ids: Vec<String> = self.layers.iter().map(|l| l.diff_id.to_string()).collect();
        self.config["rootfs"] = json!({"type": "layers", "diff_ids": diff_ids});
        self.history(created_by, false);
    }

    /// Adds a history entry (`empty_layer` for metadata-only steps).
    pub fn history(&mut self, created_by: &str, empty_layer: bool) {
        let now = jiff::Timestamp::now().to_string();
        let mut entry = json!({"created": now, "created_by": created_by});
        if empty_layer {
            entry["empty_layer"] = json!(true);
        }
        self.config["created"] = json!(now);
        match self.config["history"].as_array_mut() {
            Some(h) => h.push(entry),
            None => self.config["history"] = json!([entry]),
        }
    }

    /// The unpacked layer directories, bottom first.
    pub fn layer_dirs(&self, store: &ImageStore) -> Result<Vec<PathBuf>> {
        self.layers
            .iter()
            .map(|l| unpack::unpack_layer(store, &l.descriptor, &l.diff_id))
            .collect()
    }

    /// Writes the config and an OCI manifest into the store; the manifest's digest.
    pub fn write(&self, store: &ImageStore) -> Result<Digest> {
        let config = serde_json::to_vec(&self.config)?;
        let config_digest = store.put_blob(&config)?;
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(oci::MANIFEST_V1.into()),
            config: oci::Descriptor {
                media_type: oci::CONFIG_V1.into(),
                digest: config_digest,
                size: config.len() as u64,
                platform: None,
                annotations: Default::default(),
            },
            layers: self.layers.iter().map(|l| l.descriptor.clone()).collect(),
        };
        store.put_blob(&serde_json::to_vec(&manifest)?)
    }
}
