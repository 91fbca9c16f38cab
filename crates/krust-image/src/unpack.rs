//! Layers unpacked once and shared, in the form overlayfs lower directories need (the OCI
//! image spec's `layer.md` changesets applied as containerd's `archive.Apply` does for the
//! overlayfs snapshotter): each layer, by its diff id, into `layers/<hex>/`; an image's root
//! file system is the ordered list of its layer directories, [`lowerdir`] the overlay option.
//!
//! Whiteouts become what overlayfs reads: `.wh.<name>` a 0:0 character device `<name>`,
//! `.wh..wh..opq` the `trusted.overlay.opaque=y` attribute on its directory.
//!
//! Not running as root: ownership and extended attributes of entries are not restored (every
//! file is the unpacking user's), device entries are skipped, opaque directories get
//! `user.overlay.opaque=y` (overlayfs' `userxattr` mounts, as in a user namespace), and a
//! whiteout device is still attempted (Linux ≥ 5.8 lets unprivileged users make 0:0
//! devices); where the kernel or the file system refuses either, the OCI marker file
//! (`.wh.<name>`, `.wh..wh..opq`) is kept as it was, which overlayfs does not honour: such a
//! layer is fine for inspection, not for a container's root.
//!
//! Entry paths are sanitized: a `..` component is an error, leading `/` is dropped, and an
//! entry whose parent directory is a symlink (or not a directory) is refused, so nothing is
//! written through a link out of the layer directory. Hard links must name a file of the same
//! layer, by a sanitized path.

use std::fs::{self, Permissions};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use crate::digest::{Digest, HashingReader};
use crate::error::{Error, Result};
use crate::oci::Descriptor;
use crate::store::ImageStore;

const OPAQUE: &str = ".wh..wh..opq";
const WHITEOUT: &str = ".wh.";

/// The directory of an unpacked layer (present or not).
pub fn layer_dir(store: &ImageStore, diff_id: &Digest) -> PathBuf {
    store.root().join("layers").join(diff_id.hex())
}

/// Unpacks a layer blob unless its diff id is unpacked already; the uncompressed content
/// must hash to `diff_id`. Returns the layer directory.
pub fn unpack_layer(store: &ImageStore, layer: &Descriptor, diff_id: &Digest) -> Result<PathBuf> {
    let dest = layer_dir(store, diff_id);
    if dest.is_dir() {
        return Ok(dest);
    }
    let tmp = store.temp_dir()?;
    let dir = tmp.path().join("layer");
    fs::create_dir(&dir)?;
    fs::set_permissions(&dir, Permissions::from_mode(0o755))?;
    let mut tar = HashingReader::new(decompress(store.open_blob(&layer.digest)?)?);
    apply(&mut tar, &dir)?;
    io::copy(&mut tar, &mut io::sink())?;
    diff_id.verify(&tar.finish().0)?;
    match fs::rename(&dir, &dest) {
        Ok(()) => Ok(dest),
        Err(_) if dest.is_dir() => Ok(dest), // unpacked meanwhile by another caller
        Err(e) => Err(e.into()),
    }
}

/// The layer directories of an image, bottom first, unpacking those not yet unpacked.
pub fn rootfs(store: &ImageStore, image: &str) -> Result<Vec<PathBuf>> {
    let manifest = store.manifest(&store.resolve(image)?)?;
    let diff_ids = store.config(&manifest)?.rootfs.diff_ids;
    if diff_ids.len() != manifest.layers.len() {
        return Err(Error::Archive(format!(
            "{image}: {} layers but {} diff ids",
            manifest.layers.len(),
            diff_ids.len()
        )));
    }
    manifest
        .layers
        .iter()
        .zip(&diff_ids)
        .map(|(l, d)| unpack_layer(store, l, d))
        .collect()
}

/// overlayfs' `lowerdir=` value for layers listed bottom first: top first, `:`-separated.
pub fn lowerdir(layers: &[PathBuf]) -> String {
    let dirs: Vec<String> = layers
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect();
    dirs.join(":")
}

/// A reader of the uncompressed tar: gzip and zstd recognized by their magic numbers (media
/// types in archives are not always right), anything else read as is.
pub fn decompress(blob: impl Read + 'static) -> Result<Box<dyn Read>> {
    let mut r = BufReader::new(blob);
    let head = r.fill_buf()?;
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(r))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::with_buffer(r)?)
    } else {
        Box::new(r)
    })
}

/// Applies a layer tar to an empty directory.
pub fn apply(tar: impl Read, dir: &Path) -> Result<()> {
    let root = rustix::process::geteuid().is_root();
    let mut archive = tar::Archive::new(tar);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(root);
    archive.set_unpack_xattrs(root);
    let mut dir_modes = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let Some(rel) = sanitize(&entry.path()?)? else {
            continue;
        };
        let parent = parent_inside(dir, &rel, true)?;
        let name = rel
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let path = dir.join(&rel);
        let kind = entry.header().entry_type();
        if name == OPAQUE {
            mark_opaque(&parent, &path, root)?;
        } else if let Some(target) = name.strip_prefix(WHITEOUT) {
            whiteout(&parent.join(target), &path)?;
        } else if kind.is_hard_link() {
            let link = entry
                .link_name()?
                .ok_or_else(|| Error::UnsafePath(name.clone()))?;
            let target =
                sanitize(&link)?.ok_or_else(|| Error::UnsafePath(link.display().to_string()))?;
            parent_inside(dir, &target, false)?;
            remove_non_dir(&path)?;
            fs::hard_link(dir.join(target), &path)?;
        } else if kind.is_dir() && !root {
            fs::create_dir_all(&path)?;
            dir_modes.push((path, entry.header().mode()?));
        } else if (kind.is_character_special() || kind.is_block_special()) && !root {
            continue;
        } else {
            if !kind.is_dir() {
                remove_non_dir(&path)?;
            }
            entry.unpack(&path)?;
        }
    }
    // Without root, a read-only directory would have refused the entries below it.
    for (path, mode) in dir_modes.into_iter().rev() {
        fs::set_permissions(path, Permissions::from_mode(mode & 0o7777))?;
    }
    Ok(())
}

/// The path relative to the layer root: `.` and leading `/` dropped, `..` refused; `None`
/// for the root itself.
fn sanitize(path: &Path) -> Result<Option<PathBuf>> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::ParentDir => return Err(Error::UnsafePath(path.display().to_string())),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

/// The parent directory of `rel` under `dir`, every component a real directory (created
/// when `create`), never a symlink.
fn parent_inside(dir: &Path, rel: &Path, create: bool) -> Result<PathBuf> {
    let mut cur = dir.to_path_buf();
    for c in rel.parent().into_iter().flat_map(Path::components) {
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(Error::UnsafePath(rel.display().to_string())),
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => fs::create_dir(&cur)?,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(cur)
}

fn remove_non_dir(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Ok(fs::remove_file(path)?),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn whiteout(target: &Path, marker: &Path) -> Result<()> {
    use rustix::fs::{CWD, FileType, Mode, makedev, mknodat};
    if fs::symlink_metadata(target).is_ok_and(|m| m.is_dir()) {
        fs::remove_dir_all(target)?;
    }
    remove_non_dir(target)?;
    if mknodat(
        CWD,
        target,
        FileType::CharacterDevice,
        Mode::empty(),
        makedev(0, 0),
    )
    .is_err()
    {
        fs::File::create(marker)?; // the OCI form, kept as is
    }
    Ok(())
}

fn mark_opaque(dir: &Path, marker: &Path, root: bool) -> Result<()> {
    let name = if root {
        "trusted.overlay.opaque"
    } else {
        "user.overlay.opaque"
    };
    if xattr::set(dir, name, b"y").is_err() {
        fs::File::create(marker)?; // the OCI form, kept as is
    }
    Ok(())
}

#[cfg(test)]
#[path = "unpack_tests.rs"]
mod tests;
