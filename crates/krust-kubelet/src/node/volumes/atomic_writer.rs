//! The kubelet's atomic writer (`pkg/volume/util/atomic_writer.go`): the files of a
//! configMap, secret, downwardAPI or projected volume are written into a fresh timestamped
//! directory (`..2026_12_06_11_22_33.1234`), the `..data` symlink is swapped to it with one
//! rename, and each top-level name the user sees is a symlink through `..data`, so a reader
//! sees the old set of files or the new one, never a mix.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Component, Path};
use std::sync::atomic::{AtomicU32, Ordering};

/// The symlink to the current timestamped directory.
pub const DATA_DIR: &str = "..data";
const DATA_DIR_TMP: &str = "..data_tmp";

/// One file of a volume: its bytes and mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileProjection {
    /// The content.
    pub data: Vec<u8>,
    /// Permission bits (e.g. `0o644`).
    pub mode: u32,
}

/// Relative path → file.
pub type Payload = BTreeMap<String, FileProjection>;

/// Whether `path` may be written: relative, without `..` components, not starting with `..`.
pub fn validate_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("invalid path: must not be empty".into());
    }
    if path.len() > 4096 {
        return Err(format!(
            "invalid path: must be less than or equal to 4096 characters: {path}"
        ));
    }
    if Path::new(path).is_absolute() {
        return Err(format!("invalid path: must be relative path: {path}"));
    }
    if Path::new(path)
        .components()
        .any(|c| c == Component::ParentDir)
    {
        return Err(format!("invalid path: must not contain '..': {path}"));
    }
    if path.starts_with("..") {
        return Err(format!("invalid path: must not start with '..': {path}"));
    }
    Ok(())
}

/// Writes `payload` into `target` atomically; `fs_group` makes the files readable by that
/// group (the kubelet's `SetVolumeOwnership` of a read-only volume). Returns whether
/// anything changed (nothing is written when the payload is what is already there).
pub fn write(target: &Path, payload: &Payload, fs_group: Option<u32>) -> io::Result<bool> {
    for path in payload.keys() {
        validate_path(path).map_err(io::Error::other)?;
    }
    std::fs::create_dir_all(target)?;
    let old_dir = std::fs::read_link(target.join(DATA_DIR)).ok();
    let old_files = match &old_dir {
        Some(d) => files_under(&target.join(d))?,
        None => BTreeMap::new(),
    };
    let visible: BTreeSet<String> = payload.keys().map(|p| top_level(p)).collect();
    if old_dir.is_some() && unchanged(&old_files, payload, fs_group) {
        if visible
            .iter()
            .all(|v| target.join(v).symlink_metadata().is_ok())
        {
            return Ok(false);
        }
    } else {
        let new_dir = new_timestamped_dir(target)?;
        for (path, file) in payload {
            let full = new_dir.join(path);
            if let Some(parent) = full.parent() {
                create_dirs(&new_dir, parent, fs_group)?;
            }
            std::fs::write(&full, &file.data)?;
            let mode = file.mode & 0o7777 | if fs_group.is_some() { 0o440 } else { 0 };
            if let Some(g) = fs_group {
                std::os::unix::fs::chown(&full, None, Some(g))?;
            }
            std::fs::set_permissions(&full, std::fs::Permissions::from_mode(mode))?;
        }
        let name = new_dir.file_name().expect("a named directory");
        let tmp = target.join(DATA_DIR_TMP);
        let _ = std::fs::remove_file(&tmp);
        symlink(name, &tmp)?;
        std::fs::rename(&tmp, target.join(DATA_DIR))?;
    }
    // The user-visible names: remove those no longer in the payload, link the new ones.
    for entry in std::fs::read_dir(target)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("..") && !visible.contains(&name) {
            remove_any(&entry.path())?;
        }
    }
    for name in &visible {
        let link = target.join(name);
        if link.symlink_metadata().is_err() {
            symlink(Path::new(DATA_DIR).join(name), &link)?;
        }
    }
    if let Some(old) = old_dir
        && std::fs::read_link(target.join(DATA_DIR)).ok().as_ref() != Some(&old)
    {
        remove_any(&target.join(old))?;
    }
    Ok(true)
}

fn top_level(path: &str) -> String {
    path.split('/')
        .find(|s| !s.is_empty() && *s != ".")
        .unwrap_or(path)
        .to_string()
}

fn unchanged(old: &BTreeMap<String, FileProjection>, new: &Payload, fs_group: Option<u32>) -> bool {
    old.len() == new.len()
        && new.iter().all(|(path, file)| {
            let mode = file.mode & 0o7777 | if fs_group.is_some() { 0o440 } else { 0 };
            let clean = path.trim_start_matches("./");
            old.get(clean)
                .is_some_and(|o| o.data == file.data && o.mode == mode)
        })
}

/// The regular files under `dir`, by relative path.
fn files_under(dir: &Path) -> io::Result<BTreeMap<String, FileProjection>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let meta = entry.path().symlink_metadata()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                let rel = entry
                    .path()
                    .strip_prefix(dir)
                    .expect("under dir")
                    .to_string_lossy()
                    .into_owned();
                let data = std::fs::read(entry.path())?;
                out.insert(
                    rel,
                    FileProjection {
                        data,
                        mode: meta.permissions().mode() & 0o7777,
                    },
                );
            }
        }
    }
    Ok(out)
}

fn create_dirs(root: &Path, dir: &Path, fs_group: Option<u32>) -> io::Result<()> {
    if dir == root || dir.exists() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dirs(root, parent, fs_group)?;
    }
    std::fs::create_dir(dir)?;
    if let Some(g) = fs_group {
        std::os::unix::fs::chown(dir, None, Some(g))?;
    }
    let mode = if fs_group.is_some() { 0o2755 } else { 0o755 };
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
}

/// A new `..YYYY_MM_DD_HH_MM_SS.N` directory in `target`, mode 0755.
fn new_timestamped_dir(target: &Path) -> io::Result<std::path::PathBuf> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let stamp = jiff::Timestamp::now()
        .strftime("%Y_%m_%d_%H_%M_%S")
        .to_string();
    loop {
        let n = std::process::id()
            .wrapping_mul(1_000_003)
            .wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed))
            % 1_000_000_000;
        let dir = target.join(format!("..{stamp}.{n}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
                return Ok(dir);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

fn remove_any(path: &Path) -> io::Result<()> {
    match path.symlink_metadata() {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(files: &[(&str, &str, u32)]) -> Payload {
        files
            .iter()
            .map(|(p, d, m)| {
                (
                    p.to_string(),
                    FileProjection {
                        data: d.as_bytes().to_vec(),
                        mode: *m,
                    },
                )
            })
            .collect()
    }

    fn timestamped(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("..") && n != DATA_DIR)
            .collect()
    }

    #[test]
    fn files_are_reached_through_the_data_link() {
        let dir = tempfile::tempdir().unwrap();
        let p = payload(&[("a", "1", 0o644), ("sub/b", "2", 0o400)]);
        assert!(write(dir.path(), &p, None).unwrap());
        assert_eq!(std::fs::read_to_string(dir.path().join("a")).unwrap(), "1");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("sub/b")).unwrap(),
            "2"
        );
        assert_eq!(
            std::fs::read_link(dir.path().join("a")).unwrap(),
            Path::new("..data/a")
        );
        assert_eq!(
            std::fs::read_link(dir.path().join("sub")).unwrap(),
            Path::new("..data/sub")
        );
        let data = std::fs::read_link(dir.path().join(DATA_DIR)).unwrap();
        let name = data.to_string_lossy();
        assert!(
            name.starts_with("..20") && name.len() > "..2026_12_06_11_22_33.".len(),
            "{name}"
        );
        let mode = std::fs::metadata(dir.path().join("sub/b"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o400);
    }

    #[test]
    fn an_unchanged_payload_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = payload(&[("a", "1", 0o644)]);
        write(dir.path(), &p, None).unwrap();
        let before = std::fs::read_link(dir.path().join(DATA_DIR)).unwrap();
        assert!(!write(dir.path(), &p, None).unwrap());
        assert_eq!(
            std::fs::read_link(dir.path().join(DATA_DIR)).unwrap(),
            before
        );
    }

    #[test]
    fn an_update_swaps_the_data_and_removes_old_files_and_dirs() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &payload(&[("a", "1", 0o644), ("gone", "x", 0o644)]),
            None,
        )
        .unwrap();
        write(
            dir.path(),
            &payload(&[("a", "2", 0o644), ("new", "y", 0o644)]),
            None,
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("a")).unwrap(), "2");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("new")).unwrap(),
            "y"
        );
        assert!(dir.path().join("gone").symlink_metadata().is_err());
        assert_eq!(timestamped(dir.path()).len(), 1);
    }

    #[test]
    fn bad_paths_are_refused() {
        assert!(validate_path("../x").is_err());
        assert!(validate_path("/etc/x").is_err());
        assert!(validate_path("..x").is_err());
        assert!(validate_path("a/../../b").is_err());
        assert!(validate_path("a/b").is_ok());
        let dir = tempfile::tempdir().unwrap();
        assert!(write(dir.path(), &payload(&[("../x", "1", 0o644)]), None).is_err());
    }

    #[test]
    fn an_fs_group_owns_the_files_and_may_read_them() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &payload(&[("a", "1", 0o600)]), Some(1234)).unwrap();
        let meta = std::fs::metadata(dir.path().join("a")).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(meta.gid(), 1234);
        assert_eq!(meta.mode() & 0o777, 0o640);
    }
}
