//! Paths inside a container's root before it becomes the root: resolved by the kernel as if
//! the root were `/` (`openat2` with `RESOLVE_IN_ROOT`), so an image's symbolic links cannot
//! lead a mount outside it (what runc's and crun's `securejoin` guard against). Missing
//! parts are made; the result is an `O_PATH` descriptor whose `/proc/self/fd` path names
//! exactly that file for `mount`.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};

/// Opens `path` (absolute, inside `root`), making what is missing: directories, and the last
/// part as a directory or, when `dir` is false, an empty file. A dangling symbolic link on
/// the way is followed and what it names made (runc's `securejoin` then create: a bind
/// mount on an image's `/etc/resolv.conf` linked to a missing file lands on that file).
pub fn ensure(root: &OwnedFd, path: &str, dir: bool) -> io::Result<OwnedFd> {
    ensure_following(root, PathBuf::from(path), dir, 8)
}

fn ensure_following(root: &OwnedFd, path: PathBuf, dir: bool, links: u32) -> io::Result<OwnedFd> {
    match open(root, &path.to_string_lossy()) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        other => return other,
    }
    // Its parts, `..` taken lexically (a link's target may have some).
    let mut parts: Vec<&OsStr> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(name) => parts.push(name),
            Component::ParentDir => drop(parts.pop()),
            _ => {}
        }
    }
    let mut prefix = PathBuf::from("/");
    for (i, name) in parts.iter().enumerate() {
        let parent = open(root, &prefix.to_string_lossy())?;
        let last = i + 1 == parts.len();
        let made = if last && !dir {
            rustix::fs::openat2(
                &parent,
                *name,
                OFlags::CREATE | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o644),
                ResolveFlags::BENEATH,
            )
            .map(drop)
        } else {
            rustix::fs::mkdirat(&parent, *name, Mode::from_raw_mode(0o755))
        };
        match made {
            Ok(()) => {}
            // There already, or a symbolic link (which `open` below follows).
            Err(rustix::io::Errno::EXIST | rustix::io::Errno::LOOP) => {}
            Err(e) => return Err(e.into()),
        }
        let here = prefix.join(name);
        match open(root, &here.to_string_lossy()) {
            Err(e) if e.kind() == io::ErrorKind::NotFound && links > 0 => {
                // A dangling link: go on from what it names.
                let target = PathBuf::from(
                    rustix::fs::readlinkat(&parent, *name, Vec::new())?
                        .to_string_lossy()
                        .into_owned(),
                );
                let mut next = prefix.join(target);
                next.extend(&parts[i + 1..]);
                return ensure_following(root, next, dir, links - 1);
            }
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        prefix = here;
    }
    open(root, &path.to_string_lossy())
}

/// Opens `path` (absolute, inside `root`) as an `O_PATH` descriptor.
pub fn open(root: &OwnedFd, path: &str) -> io::Result<OwnedFd> {
    let relative = path.trim_start_matches('/');
    let relative = if relative.is_empty() { "." } else { relative };
    Ok(rustix::fs::openat2(
        root,
        relative,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )?)
}

/// The path `mount` and friends reach an opened file by.
pub fn fd_path(fd: &impl AsFd) -> String {
    format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd())
}
