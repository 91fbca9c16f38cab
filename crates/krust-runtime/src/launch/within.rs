//! Paths inside a container's root before it becomes the root: resolved by the kernel as if
//! the root were `/` (`openat2` with `RESOLVE_IN_ROOT`), so an image's symbolic links cannot
//! lead a mount outside it (what runc's and crun's `securejoin` guard against). Missing
//! parts are made; the result is an `O_PATH` descriptor whose `/proc/self/fd` path names
//! exactly that file for `mount`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};

/// Opens `path` (absolute, inside `root`), making what is missing: directories, and the last
/// part as a directory or, when `dir` is false, an empty file.
pub fn ensure(root: &OwnedFd, path: &str, dir: bool) -> io::Result<OwnedFd> {
    match open(root, path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        other => return other,
    }
    let parts: Vec<&std::ffi::OsStr> = Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name),
            _ => None,
        })
        .collect();
    let mut prefix = PathBuf::from("/");
    for (i, name) in parts.iter().enumerate() {
        let parent = open(root, &prefix.to_string_lossy())?;
        prefix.push(name);
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
            Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
    }
    open(root, path)
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
