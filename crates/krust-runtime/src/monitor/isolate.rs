//! The mount namespace crun runs in. This host has hybrid cgroups (v1 controllers plus a
//! cgroup2 mount holding none of them), which crun refuses; it accepts them when it cannot
//! read `cgroup.controllers` of the cgroup2 mount, so the monitor (and every crun call)
//! runs in a private mount namespace where that file is covered by `/dev/null`.

use std::io;
use std::path::Path;

use rustix::mount::MountPropagationFlags;
use rustix::thread::UnshareFlags;

const CONTROLLERS: &str = "/sys/fs/cgroup/unified/cgroup.controllers";

/// Moves the calling process (which must have one thread) into a private mount namespace
/// with the cgroup2 controllers file masked.
pub fn private_mount_namespace() -> io::Result<()> {
    private_mounts()?;
    if Path::new(CONTROLLERS).exists() {
        rustix::mount::mount_bind("/dev/null", CONTROLLERS)?;
    }
    Ok(())
}

/// Moves the calling thread into a new mount namespace whose mounts propagate nowhere.
pub(crate) fn private_mounts() -> io::Result<()> {
    // Unsharing the mount namespace gives the calling thread a file-system context of its
    // own (other threads keep theirs). `unshare_unsafe` is unsafe because unsharing the file
    // table under other threads breaks them; that table is not unshared here, and the
    // workspace forbids unsafe code, so the safe (deprecated) spelling is used.
    #[allow(deprecated)]
    rustix::thread::unshare(UnshareFlags::NEWNS)?;
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
    )?;
    Ok(())
}
