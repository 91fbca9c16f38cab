//! The mounts the kubelet itself makes on the host (tmpfs for `medium: Memory` emptyDirs),
//! found again from `/proc/self/mountinfo` and taken down with the pod (the kubelet's
//! `mount-utils`).

use std::ffi::CString;
use std::io;
use std::path::{Path, PathBuf};

use rustix::mount::{MountFlags, UnmountFlags};

/// Mounts a tmpfs on `dir` (mode 0777, limited to `size_bytes` when given), unless one is
/// mounted there already.
pub fn mount_tmpfs(dir: &Path, size_bytes: Option<u64>) -> io::Result<()> {
    if is_mount_point(dir)? {
        return Ok(());
    }
    let mut options = String::from("mode=0777");
    if let Some(size) = size_bytes {
        options.push_str(&format!(",size={size}"));
    }
    let data = CString::new(options).map_err(io::Error::other)?;
    rustix::mount::mount(
        "tmpfs",
        dir,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::NODEV,
        data.as_c_str(),
    )
    .map_err(io::Error::from)
}

/// Whether `dir` is a mount point.
pub fn is_mount_point(dir: &Path) -> io::Result<bool> {
    let dir = std::fs::canonicalize(dir)?;
    Ok(mount_points()?.contains(&dir))
}

/// Every mount point of this mount namespace.
pub fn mount_points() -> io::Result<Vec<PathBuf>> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")?;
    Ok(info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape(p)))
        .collect())
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let v = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Unmounts (lazily) every mount at or under `root`, deepest first.
pub fn unmount_under(root: &Path) -> io::Result<()> {
    let Ok(root) = std::fs::canonicalize(root) else {
        return Ok(());
    };
    let mut under: Vec<PathBuf> = mount_points()?
        .into_iter()
        .filter(|m| m.starts_with(&root))
        .collect();
    under.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    under.dedup();
    for m in under {
        // A mount stacked twice on one point needs one unmount each.
        while is_mount_point(&m).unwrap_or(false) {
            rustix::mount::unmount(&m, UnmountFlags::DETACH).map_err(io::Error::from)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
    }
}
