//! A test image in memory (uncompressed layer tars and a config) and the `docker save`
//! archive of it, in the old format `docker save` wrote before Docker 25 (`manifest.json`,
//! `<config hex>.json`, `<layer hex>/layer.tar`), which `krust image load` reads.

use std::fs::File;
use std::path::Path;

use serde_json::json;

use crate::digest::Digest;

/// An image: its layers (uncompressed tars, bottom first) and its config JSON.
#[derive(Clone, Debug)]
pub struct Image {
    /// Uncompressed layer tars, bottom first.
    pub layers: Vec<Vec<u8>>,
    /// The image config (its `rootfs.diff_ids` name the layers).
    pub config: Vec<u8>,
}

impl Image {
    /// The config digest: what `docker images` shows as the IMAGE ID.
    pub fn config_digest(&self) -> Digest {
        Digest::of(&self.config)
    }

    /// Writes a `docker save` archive of the image, tagged with each of `names`, to `path`.
    pub fn write_docker_archive(&self, path: &Path, names: &[&str]) {
        let mut b = tar::Builder::new(File::create(path).expect("create the archive"));
        let mut add = |name: &str, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            h.set_mtime(0);
            h.set_size(data.len() as u64);
            b.append_data(&mut h, name, data)
                .expect("write the archive");
        };
        let config_name = format!("{}.json", self.config_digest().hex());
        let layer_names: Vec<String> = self
            .layers
            .iter()
            .map(|l| format!("{}/layer.tar", Digest::of(l).hex()))
            .collect();
        let manifest = json!([{"Config": config_name, "RepoTags": names, "Layers": layer_names}]);
        add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
        add(&config_name, &self.config);
        for (name, layer) in layer_names.iter().zip(&self.layers) {
            add(name, layer);
        }
        b.into_inner()
            .and_then(|f| f.sync_all())
            .expect("finish the archive");
    }
}
