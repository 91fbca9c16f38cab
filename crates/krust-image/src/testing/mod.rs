//! Test fixtures, for this crate's tests and (with the `testing` feature) for other crates':
//! layer tars, compression, images put straight into a store; an offline busybox image written
//! as a `docker save` archive ([`busybox`]); a distribution-API registry served on loopback
//! ([`registry`]).

pub mod busybox;
pub mod image;
pub mod registry;

pub use busybox::{BusyboxImage, busybox_archive};
pub use image::Image;
pub use registry::Registry;

use std::io::Write;

use crate::digest::Digest;
use crate::oci::{self, Descriptor, Manifest};
use crate::store::ImageStore;

/// One tar entry of a fixture.
pub enum Entry<'a> {
    /// A regular file (0644) and its content.
    File(&'a str, &'a [u8]),
    /// An executable file (0755) and its content.
    Executable(&'a str, &'a [u8]),
    /// A directory (0755).
    Dir(&'a str),
    /// A directory with the given mode (`/tmp`: 0o1777).
    DirMode(&'a str, u32),
    /// A symlink and its target.
    Symlink(&'a str, &'a str),
    /// A hard link and the file it names.
    HardLink(&'a str, &'a str),
    /// A file whose name is written unchecked (`..`, absolute).
    Raw(&'a str, &'a [u8]),
}

/// A tar of the entries, in order.
pub fn tar_of(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        match *e {
            Entry::File(p, data) | Entry::Executable(p, data) => {
                if matches!(e, Entry::Executable(..)) {
                    h.set_mode(0o755);
                }
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, data).unwrap();
            }
            Entry::Dir(p) | Entry::DirMode(p, _) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(match e {
                    Entry::DirMode(_, mode) => *mode,
                    _ => 0o755,
                });
                h.set_size(0);
                b.append_data(&mut h, p, &[][..]).unwrap();
            }
            Entry::Symlink(p, target) | Entry::HardLink(p, target) => {
                let kind = if matches!(e, Entry::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                };
                h.set_entry_type(kind);
                h.set_size(0);
                b.append_link(&mut h, p, target).unwrap();
            }
            Entry::Raw(p, data) => {
                h.as_old_mut().name[..p.len()].copy_from_slice(p.as_bytes());
                h.set_size(data.len() as u64);
                h.set_cksum();
                b.append(&h, data).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// Gzip-compressed bytes.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Zstd-compressed bytes.
pub fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 1).unwrap()
}

/// A config JSON naming the diff ids of the uncompressed layers.
pub fn config_json(layers: &[Vec<u8>]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| Digest::of(l).to_string()).collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap()
}

/// A manifest of a config and (possibly compressed) layer blobs.
pub fn manifest_json(config: &[u8], blobs: &[Vec<u8>]) -> Vec<u8> {
    let desc = |media: &str, b: &[u8]| Descriptor {
        media_type: media.into(),
        digest: Digest::of(b),
        size: b.len() as u64,
        platform: None,
        annotations: Default::default(),
    };
    let m = Manifest {
        schema_version: 2,
        media_type: Some(oci::MANIFEST_V1.into()),
        config: desc(oci::CONFIG_V1, config),
        layers: blobs.iter().map(|b| desc(oci::LAYER_TAR_GZIP, b)).collect(),
    };
    serde_json::to_vec(&m).unwrap()
}

/// Puts an image of gzip layers into the store under `name`; returns its manifest digest.
pub fn put_image(store: &ImageStore, name: &str, layers: &[Vec<u8>]) -> Digest {
    let blobs: Vec<Vec<u8>> = layers.iter().map(|l| gzip(l)).collect();
    let config = config_json(layers);
    for b in &blobs {
        store.put_blob(b).unwrap();
    }
    store.put_blob(&config).unwrap();
    let digest = store.put_blob(&manifest_json(&config, &blobs)).unwrap();
    store.tag(name, &digest).unwrap();
    digest
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
