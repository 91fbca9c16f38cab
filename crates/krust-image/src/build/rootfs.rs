//! Reading an image's root file system from its unpacked layers without mounting it, as
//! overlayfs would show it (upper layers win, 0:0 character devices hide what is below,
//! opaque directories hide the lower directory's entries); and copying trees with owner,
//! mode and times, for COPY and ADD into a step's directory.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::Result;

/// Who owns copied files: `None` keeps the source's owner.
pub type Owner = Option<(u32, u32)>;

/// The file at `rel` (relative, `/`-separated) in layers listed bottom first, top-most
/// first found; `None` when absent or whited out.
pub fn lookup(layers: &[PathBuf], rel: &str) -> Option<PathBuf> {
    let rel = rel.trim_start_matches('/');
    for layer in layers.iter().rev() {
        let path = layer.join(rel);
        match fs::symlink_metadata(&path) {
            Ok(m) if whiteout(&m) => return None,
            Ok(_) => return Some(path),
            Err(_) => {}
        }
    }
    None
}

/// Copies what `rel` is in the layers (a file, or a directory merged across layers) to
/// `dest`; false when absent.
pub fn materialize(layers: &[PathBuf], rel: &str, dest: &Path, owner: Owner) -> Result<bool> {
    let rel = rel.trim_start_matches('/');
    let mut found = false;
    for layer in layers {
        let path = if rel.is_empty() {
            layer.clone()
        } else {
            layer.join(rel)
        };
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if whiteout(&meta) {
            remove(dest)?;
            found = false;
            continue;
        }
        if !meta.is_dir() {
            remove(dest)?;
        }
        copy_tree(&path, dest, owner)?;
        found = true;
    }
    Ok(found)
}

/// Copies `src` (file, symlink or directory tree) to `dest`, merging into an existing
/// directory; whiteouts in `src` delete at `dest`, opaque directories clear it first.
pub fn copy_tree(src: &Path, dest: &Path, owner: Owner) -> Result<()> {
    let meta = fs::symlink_metadata(src)?;
    let kind = meta.file_type();
    if kind.is_dir() {
        if fs::symlink_metadata(dest).is_ok_and(|m| !m.is_dir()) {
            fs::remove_file(dest)?;
        }
        if opaque(src) && dest.is_dir() {
            fs::remove_dir_all(dest)?;
        }
        if !dest.is_dir() {
            fs::create_dir(dest)?;
        }
        let mut entries: Vec<_> = fs::read_dir(src)?.collect::<io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let child = entry.path();
            let target = dest.join(entry.file_name());
            let m = fs::symlink_metadata(&child)?;
            if whiteout(&m) {
                remove(&target)?;
            } else {
                copy_tree(&child, &target, owner)?;
            }
        }
    } else {
        remove(dest)?;
        if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(src)?, dest)?;
        } else if kind.is_file() {
            fs::copy(src, dest)?;
        } else {
            return Ok(()); // devices, sockets and fifos are not copied
        }
    }
    finish(dest, &meta, owner)
}

/// Sets owner, mode and modification time of a copy (never following a symlink).
pub fn finish(dest: &Path, meta: &fs::Metadata, owner: Owner) -> Result<()> {
    let (uid, gid) = owner.unwrap_or((meta.uid(), meta.gid()));
    if rustix::process::geteuid().is_root() {
        rustix::fs::chownat(
            rustix::fs::CWD,
            dest,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(io::Error::from)?;
    }
    if !meta.file_type().is_symlink() {
        fs::set_permissions(dest, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    let mtime = rustix::fs::Timestamps {
        last_access: rustix::fs::Timespec {
            tv_sec: meta.atime(),
            tv_nsec: meta.atime_nsec(),
        },
        last_modification: rustix::fs::Timespec {
            tv_sec: meta.mtime(),
            tv_nsec: meta.mtime_nsec(),
        },
    };
    let _ = rustix::fs::utimensat(
        rustix::fs::CWD,
        dest,
        &mtime,
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    );
    Ok(())
}

/// Creates the directories of `rel` under `dir`, each with the owner and mode it has in
/// the image when it exists there (so the layer does not change it), else root's 0755.
pub fn make_parents(layers: &[PathBuf], dir: &Path, rel: &str) -> Result<()> {
    let mut cur = String::new();
    for part in rel.split('/').filter(|p| !p.is_empty()) {
        if !cur.is_empty() {
            cur.push('/');
        }
        cur.push_str(part);
        let path = dir.join(&cur);
        if path.is_dir() {
            continue;
        }
        fs::create_dir(&path)?;
        match lookup(layers, &cur).and_then(|p| fs::metadata(p).ok()) {
            Some(m) if m.is_dir() => finish(&path, &m, None)?,
            _ => {
                fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
            }
        }
    }
    Ok(())
}

/// Resolves `user[:group]` (names or numbers) against the image's `/etc/passwd` and
/// `/etc/group`, as docker's `--chown` does; a user alone takes its primary group.
pub fn resolve_owner(layers: &[PathBuf], spec: &str) -> std::result::Result<(u32, u32), String> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = lookup(layers, "etc/passwd").and_then(|p| fs::read_to_string(p).ok());
    let find = |file: &Option<String>, name: &str, field: usize| -> Option<Vec<String>> {
        file.as_ref()?.lines().find_map(|l| {
            let f: Vec<String> = l.split(':').map(str::to_owned).collect();
            (f.first().map(String::as_str) == Some(name) && f.len() > field).then_some(f)
        })
    };
    let (uid, primary) = match user.parse::<u32>() {
        Ok(uid) => (uid, None),
        Err(_) => {
            let f = find(&passwd, user, 3).ok_or_else(|| {
                format!("unable to find user {user}: no matching entries in passwd file")
            })?;
            (f[2].parse().unwrap_or(0), f[3].parse().ok())
        }
    };
    let gid = match group {
        None => primary.unwrap_or(uid),
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => {
                let groups = lookup(layers, "etc/group").and_then(|p| fs::read_to_string(p).ok());
                let f = find(&groups, g, 2).ok_or_else(|| {
                    format!("unable to find group {g}: no matching entries in group file")
                })?;
                f[2].parse().unwrap_or(0)
            }
        },
    };
    Ok((uid, gid))
}

fn whiteout(meta: &fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

fn opaque(dir: &Path) -> bool {
    ["trusted.overlay.opaque", "user.overlay.opaque"]
        .iter()
        .any(|name| matches!(xattr::get(dir, name), Ok(Some(v)) if v == b"y"))
}

fn remove(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Ok(fs::remove_dir_all(path)?),
        Ok(_) => Ok(fs::remove_file(path)?),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_layers_win_and_a_whiteout_hides_what_is_below() {
        let tmp = tempfile::tempdir().unwrap();
        let (low, up) = (tmp.path().join("low"), tmp.path().join("up"));
        fs::create_dir_all(low.join("etc")).unwrap();
        fs::create_dir_all(up.join("etc")).unwrap();
        fs::write(low.join("etc/a"), "low").unwrap();
        fs::write(low.join("etc/b"), "low").unwrap();
        fs::write(up.join("etc/a"), "up").unwrap();
        let layers = vec![low, up.clone()];
        assert_eq!(
            fs::read_to_string(lookup(&layers, "/etc/a").unwrap()).unwrap(),
            "up"
        );
        let dest = tmp.path().join("out");
        assert!(materialize(&layers, "etc", &dest, None).unwrap());
        assert_eq!(fs::read_to_string(dest.join("b")).unwrap(), "low");
        if rustix::fs::mknodat(
            rustix::fs::CWD,
            up.join("etc/b"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::empty(),
            rustix::fs::makedev(0, 0),
        )
        .is_ok()
        {
            assert!(lookup(&layers, "etc/b").is_none());
            let dest = tmp.path().join("out2");
            materialize(&layers, "etc", &dest, None).unwrap();
            assert!(!dest.join("b").exists());
        }
    }

    #[test]
    fn chown_names_resolve_through_the_images_passwd_and_group_files() {
        let tmp = tempfile::tempdir().unwrap();
        let l = tmp.path().join("l");
        fs::create_dir_all(l.join("etc")).unwrap();
        fs::write(
            l.join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/:/bin/sh\n",
        )
        .unwrap();
        fs::write(l.join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
        let layers = vec![l];
        assert_eq!(resolve_owner(&layers, "app"), Ok((1000, 1001)));
        assert_eq!(resolve_owner(&layers, "app:staff"), Ok((1000, 50)));
        assert_eq!(resolve_owner(&layers, "7:8"), Ok((7, 8)));
        assert_eq!(resolve_owner(&layers, "7"), Ok((7, 7)));
        assert!(resolve_owner(&layers, "nobody").is_err());
    }
}
