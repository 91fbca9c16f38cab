//! A build step's changes as an OCI layer, as the overlayfs snapshotter's diff (containerd's
//! `archive.WriteDiff` over an upper directory) writes it: the upper directory walked in name
//! order, each file, directory, link and device as a tar entry with its mode, owner and
//! time; overlayfs' whiteouts (0:0 character devices) as `.wh.<name>` files and opaque
//! directories (`trusted.overlay.opaque=y`, or `user.` without root) followed by
//! `.wh..wh..opq`; hard links within the layer kept as links. The tar is gzipped into the
//! store and unpacked once, like a pulled layer, so later steps and pods use it.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::digest::{Digest, Hasher};
use crate::error::Result;
use crate::oci::{self, Descriptor};
use crate::store::ImageStore;
use crate::unpack;

const OPAQUE: &str = ".wh..wh..opq";

/// A layer in the store: its (gzip) blob and the digest of its tar.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Layer {
    /// The blob.
    pub descriptor: Descriptor,
    /// The uncompressed tar's digest.
    pub diff_id: Digest,
}

/// Writes the changeset tar of `dir` (an overlay upper directory, or a directory laid out as
/// one) to `out`.
pub fn write_diff(dir: &Path, out: impl Write) -> Result<()> {
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    let mut links = HashMap::new();
    walk(dir, "", &mut tar, &mut links)?;
    tar.into_inner()?.flush()?;
    Ok(())
}

fn walk<W: Write>(
    dir: &Path,
    prefix: &str,
    tar: &mut tar::Builder<W>,
    links: &mut HashMap<(u64, u64), String>,
) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = format!("{prefix}{name}");
        let path = entry.path();
        let meta = fs::symlink_metadata(&path)?;
        let kind = meta.file_type();
        if kind.is_char_device() && meta.rdev() == 0 {
            let mut h = header(&meta, tar::EntryType::Regular);
            h.set_mode(0);
            h.set_size(0);
            tar.append_data(&mut h, format!("{prefix}.wh.{name}"), io::empty())?;
            continue;
        }
        if kind.is_dir() {
            let mut h = header(&meta, tar::EntryType::Directory);
            h.set_size(0);
            tar.append_data(&mut h, format!("{rel}/"), io::empty())?;
            if opaque(&path) {
                let mut h = header(&meta, tar::EntryType::Regular);
                h.set_size(0);
                tar.append_data(&mut h, format!("{rel}/{OPAQUE}"), io::empty())?;
            }
            walk(&path, &format!("{rel}/"), tar, links)?;
        } else if kind.is_symlink() {
            let mut h = header(&meta, tar::EntryType::Symlink);
            h.set_size(0);
            tar.append_link(&mut h, &rel, fs::read_link(&path)?)?;
        } else if kind.is_file() {
            if meta.nlink() > 1 {
                if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                    let mut h = header(&meta, tar::EntryType::Link);
                    h.set_size(0);
                    tar.append_link(&mut h, &rel, first)?;
                    continue;
                }
                links.insert((meta.dev(), meta.ino()), rel.clone());
            }
            let mut h = header(&meta, tar::EntryType::Regular);
            h.set_size(meta.len());
            tar.append_data(&mut h, &rel, File::open(&path)?)?;
        } else {
            // Devices and fifos: the tar crate reads their numbers from the metadata.
            tar.append_path_with_name(&path, &rel)?;
        }
    }
    Ok(())
}

fn header(meta: &fs::Metadata, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
    h.set_entry_type(kind);
    h
}

fn opaque(dir: &Path) -> bool {
    ["trusted.overlay.opaque", "user.overlay.opaque"]
        .iter()
        .any(|name| matches!(xattr::get(dir, name), Ok(Some(v)) if v == b"y"))
}

/// Writes `dir`'s changeset as a gzip layer into the store and unpacks it.
pub fn commit(store: &ImageStore, dir: &Path) -> Result<Layer> {
    let mut tmp = store.temp_file()?;
    let diff_id = {
        let mut tee = Tee {
            hasher: Hasher::default(),
            inner: flate2::write::GzEncoder::new(tmp.as_file_mut(), flate2::Compression::fast()),
        };
        write_diff(dir, &mut tee)?;
        tee.inner.finish()?;
        tee.hasher.finish()
    };
    let (digest, size) = store.write_blob(None, File::open(tmp.path())?)?;
    let descriptor = Descriptor {
        media_type: oci::LAYER_TAR_GZIP.into(),
        digest,
        size,
        platform: None,
        annotations: Default::default(),
    };
    unpack::unpack_layer(store, &descriptor, &diff_id)?;
    Ok(Layer {
        descriptor,
        diff_id,
    })
}

/// Hashes what it passes on.
struct Tee<W> {
    hasher: Hasher,
    inner: W,
}

impl<W: Write> Write for Tee<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<(String, tar::EntryType)> {
        let mut bytes = Vec::new();
        write_diff(dir, &mut bytes).unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().entry_type(),
                )
            })
            .collect()
    }

    #[test]
    fn files_directories_links_and_hard_links_become_tar_entries_in_name_order() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        fs::create_dir_all(d.join("app/sub")).unwrap();
        fs::write(d.join("app/b.txt"), "b").unwrap();
        fs::hard_link(d.join("app/b.txt"), d.join("app/sub/c.txt")).unwrap();
        std::os::unix::fs::symlink("b.txt", d.join("app/a")).unwrap();
        let got = entries(d);
        use tar::EntryType as T;
        assert_eq!(
            got,
            [
                ("app/".into(), T::Directory),
                ("app/a".into(), T::Symlink),
                ("app/b.txt".into(), T::Regular),
                ("app/sub/".into(), T::Directory),
                ("app/sub/c.txt".into(), T::Link),
            ]
        );
    }

    #[test]
    fn overlay_whiteouts_and_opaque_directories_become_oci_whiteout_files() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        fs::create_dir(d.join("etc")).unwrap();
        let device = rustix::fs::mknodat(
            rustix::fs::CWD,
            d.join("etc/gone"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::empty(),
            rustix::fs::makedev(0, 0),
        );
        fs::create_dir(d.join("var")).unwrap();
        let root = rustix::process::geteuid().is_root();
        let attr = if root {
            "trusted.overlay.opaque"
        } else {
            "user.overlay.opaque"
        };
        let marked = xattr::set(d.join("var"), attr, b"y");
        let got: Vec<String> = entries(d).into_iter().map(|(p, _)| p).collect();
        if device.is_ok() {
            assert!(got.contains(&"etc/.wh.gone".to_owned()), "{got:?}");
        }
        if marked.is_ok() {
            assert!(got.contains(&"var/.wh..wh..opq".to_owned()), "{got:?}");
        }
        assert!(got.contains(&"etc/".to_owned()) && got.contains(&"var/".to_owned()));
    }

    #[test]
    fn a_committed_layer_is_stored_gzipped_and_unpacked_under_its_diff_id() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ImageStore::open(tmp.path().join("store")).unwrap();
        let dir = tmp.path().join("upper");
        fs::create_dir_all(dir.join("app")).unwrap();
        fs::write(dir.join("app/index.html"), "hello").unwrap();
        let layer = commit(&store, &dir).unwrap();
        assert!(store.has_blob(&layer.descriptor.digest));
        let unpacked = unpack::layer_dir(&store, &layer.diff_id);
        assert_eq!(
            fs::read_to_string(unpacked.join("app/index.html")).unwrap(),
            "hello"
        );
    }
}
