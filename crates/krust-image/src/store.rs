//! The content-addressed image store, after containerd's content store (`content/local`):
//! `blobs/sha256/<hex>` written through a temporary file and renamed once verified, an index
//! of image names → manifest digest (`images.json`, rewritten atomically), and garbage
//! collection of what no image references. `layers/<diffid hex>/` holds unpacked layers
//! (see [`crate::unpack`]).
//!
//! One process owns a store. Index changes, imports and garbage collection are serialized by
//! a lock in the [`ImageStore`]; blob writes and unpacks are idempotent (same content, same
//! path) and may run beside them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use tempfile::NamedTempFile;

use crate::digest::{Digest, Hasher, HashingReader};
use crate::error::{Error, Result};
use crate::oci::{Config, Manifest};
use crate::reference::Reference;

const INDEX: &str = "images.json";

/// A content-addressed image store under a root directory.
#[derive(Debug)]
pub struct ImageStore {
    root: PathBuf,
    lock: Mutex<()>,
}

/// What a garbage collection removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Collected {
    /// Blobs deleted.
    pub blobs: usize,
    /// Unpacked layer directories deleted.
    pub layers: usize,
}

impl ImageStore {
    /// Opens (creating) a store at `root`; leftovers of interrupted writes are removed.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let tmp = root.join("tmp");
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        for dir in [tmp, root.join("blobs/sha256"), root.join("layers")] {
            fs::create_dir_all(dir)?;
        }
        Ok(Self {
            root,
            lock: Mutex::new(()),
        })
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a blob lives (whether or not it is present).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    /// Whether a blob is present.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Streams content into the store; when `expected` is given the content must hash to it.
    /// Returns the content's digest and length.
    pub fn write_blob(
        &self,
        expected: Option<&Digest>,
        content: impl Read,
    ) -> Result<(Digest, u64)> {
        let mut tmp = self.temp_file()?;
        let mut reader = HashingReader::new(content);
        io::copy(&mut reader, &mut tmp)?;
        let (digest, len) = reader.finish();
        if let Some(expected) = expected {
            expected.verify(&digest)?;
        }
        tmp.as_file().sync_all()?;
        tmp.persist(self.blob_path(&digest)).map_err(|e| e.error)?;
        Ok((digest, len))
    }

    /// A blob to be written in pieces (a download); nothing is visible before
    /// [`BlobWriter::commit`].
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        let blobs = self.root.join("blobs/sha256");
        Ok(BlobWriter {
            tmp: self.temp_file()?,
            hasher: Hasher::default(),
            blobs,
        })
    }

    /// Stores bytes, returning their digest.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<Digest> {
        Ok(self.write_blob(None, bytes)?.0)
    }

    /// Opens a blob for reading.
    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        File::open(self.blob_path(digest)).map_err(|e| not_found(e, digest.as_str()))
    }

    /// Reads a whole (small) blob.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.open_blob(digest)?.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// The image manifest stored under `digest`.
    pub fn manifest(&self, digest: &Digest) -> Result<Manifest> {
        Ok(serde_json::from_slice(&self.read_blob(digest)?)?)
    }

    /// The config a manifest names.
    pub fn config(&self, manifest: &Manifest) -> Result<Config> {
        Ok(serde_json::from_slice(
            &self.read_blob(&manifest.config.digest)?,
        )?)
    }

    /// Names an image: `name` (normalized, see [`image_key`]) → the manifest `digest`, whose
    /// manifest, config and layers must all be present.
    pub fn tag(&self, name: &str, digest: &Digest) -> Result<()> {
        let _guard = self.lock();
        self.tag_locked(&image_key(name)?, digest)
    }

    /// The manifest digest of an image name.
    pub fn resolve(&self, name: &str) -> Result<Digest> {
        let key = image_key(name)?;
        self.read_index()?.remove(&key).ok_or(Error::NotFound(key))
    }

    /// Every image: normalized name → manifest digest, sorted by name.
    pub fn list(&self) -> Result<Vec<(String, Digest)>> {
        Ok(self.read_index()?.into_iter().collect())
    }

    /// The size of an image's content as a registry serves it, in bytes: manifest, config and
    /// (compressed) layers, as containerd reports an image's size.
    pub fn content_size(&self, digest: &Digest) -> Result<u64> {
        let manifest = self.manifest(digest)?;
        let manifest_len = fs::metadata(self.blob_path(digest))?.len();
        Ok(manifest_len
            + manifest.config.size
            + manifest.layers.iter().map(|l| l.size).sum::<u64>())
    }

    /// Removes an image name, then collects what no other image references.
    pub fn remove(&self, name: &str) -> Result<Collected> {
        let _guard = self.lock();
        let key = image_key(name)?;
        let mut index = self.read_index()?;
        index.remove(&key).ok_or(Error::NotFound(key))?;
        self.write_index(&index)?;
        self.gc_locked()
    }

    /// Deletes the blobs and unpacked layers no named image references.
    pub fn gc(&self) -> Result<Collected> {
        let _guard = self.lock();
        self.gc_locked()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn temp_file(&self) -> Result<NamedTempFile> {
        Ok(NamedTempFile::new_in(self.root.join("tmp"))?)
    }

    pub(crate) fn temp_dir(&self) -> Result<tempfile::TempDir> {
        Ok(tempfile::TempDir::new_in(self.root.join("tmp"))?)
    }

    pub(crate) fn tag_locked(&self, key: &str, digest: &Digest) -> Result<()> {
        let manifest = self.manifest(digest)?;
        for d in std::iter::once(&manifest.config).chain(&manifest.layers) {
            if !self.has_blob(&d.digest) {
                return Err(Error::NotFound(format!("blob {} of {key}", d.digest)));
            }
        }
        let mut index = self.read_index()?;
        index.insert(key.to_owned(), digest.clone());
        self.write_index(&index)
    }

    pub(crate) fn gc_locked(&self) -> Result<Collected> {
        let (mut blobs, mut layers) = (BTreeSet::new(), BTreeSet::new());
        for digest in self.read_index()?.values() {
            let manifest = self.manifest(digest)?;
            blobs.insert(digest.hex().to_owned());
            blobs.insert(manifest.config.digest.hex().to_owned());
            blobs.extend(manifest.layers.iter().map(|l| l.digest.hex().to_owned()));
            let config = self.config(&manifest)?;
            layers.extend(config.rootfs.diff_ids.iter().map(|d| d.hex().to_owned()));
        }
        let mut collected = Collected::default();
        for entry in fs::read_dir(self.root.join("blobs/sha256"))? {
            let entry = entry?;
            if !blobs.contains(entry.file_name().to_string_lossy().as_ref()) {
                fs::remove_file(entry.path())?;
                collected.blobs += 1;
            }
        }
        for entry in fs::read_dir(self.root.join("layers"))? {
            let entry = entry?;
            if !layers.contains(entry.file_name().to_string_lossy().as_ref()) {
                fs::remove_dir_all(entry.path())?;
                collected.layers += 1;
            }
        }
        Ok(collected)
    }

    fn read_index(&self) -> Result<BTreeMap<String, Digest>> {
        match fs::read(self.root.join(INDEX)) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes)?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(e.into()),
        }
    }

    fn write_index(&self, index: &BTreeMap<String, Digest>) -> Result<()> {
        let mut tmp = self.temp_file()?;
        tmp.write_all(&serde_json::to_vec_pretty(index)?)?;
        tmp.as_file().sync_all()?;
        tmp.persist(self.root.join(INDEX)).map_err(|e| e.error)?;
        File::open(&self.root)?.sync_all()?;
        Ok(())
    }
}

/// A blob being written in pieces, see [`ImageStore::blob_writer`].
pub struct BlobWriter {
    tmp: NamedTempFile,
    hasher: Hasher,
    blobs: PathBuf,
}

impl BlobWriter {
    /// Appends bytes.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.hasher.update(bytes);
        Ok(self.tmp.write_all(bytes)?)
    }

    /// Makes the blob visible if it hashes to `expected`; otherwise it is dropped.
    pub fn commit(self, expected: &Digest) -> Result<()> {
        expected.verify(&self.hasher.finish())?;
        self.tmp.as_file().sync_all()?;
        self.tmp
            .persist(self.blobs.join(expected.hex()))
            .map_err(|e| e.error)?;
        Ok(())
    }
}

/// Where a node's image store lives under its data dir (`krust server --data-dir D`, `krust
/// image --data-dir D`): `D/images`. The kubelet and the CLI both take it from here.
pub fn store_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("images")
}

/// The index key of an image name: a bare `sha256:` digest stays as is (untagged images),
/// anything else is a [`Reference`] normalized (`nginx` → `docker.io/library/nginx:latest`).
pub fn image_key(name: &str) -> Result<String> {
    match Digest::parse(name) {
        Ok(d) => Ok(d.to_string()),
        Err(_) => Ok(Reference::parse(name)?.to_string()),
    }
}

fn not_found(e: io::Error, what: &str) -> Error {
    if e.kind() == io::ErrorKind::NotFound {
        Error::NotFound(what.to_owned())
    } else {
        e.into()
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
