//! A cost of starting a container that is crun's, not the work's, cut from the monitor's
//! critical path (measured with `strace -T` on this host): crun re-executes itself from a
//! copy of its own binary (the runc CVE-2019-5736 defence): a bind mount of
//! `/proc/self/exe`, its unmount and unlink, and an `execveat`, ~3–5 ms. A binary that
//! already is a fully sealed memfd is trusted as is, so the monitor runs crun from one.
//! (The kernel's own cost, an RCU grace period before crun's cgroup move, is the
//! runtime's `dynmods.rs`.)

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use rustix::fs::{MemfdFlags, SealFlags};

/// A sealed in-memory copy of an executable, run as `/proc/self/fd/<n>`.
pub struct SealedBinary {
    fd: OwnedFd,
}

impl SealedBinary {
    /// Copies the file at `path` (kernel to kernel: no buffer on the monitor's heap, whose
    /// freed pages would stay resident while it sleeps). Hold it only while it is run: it
    /// is the binary's size in memory.
    pub fn copy(path: &Path) -> io::Result<SealedBinary> {
        let mut source = std::fs::File::open(path)?;
        let fd = rustix::fs::memfd_create("crun", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)?;
        let mut file = std::fs::File::from(fd);
        io::copy(&mut source, &mut file)?;
        let fd = OwnedFd::from(file);
        rustix::fs::fcntl_add_seals(
            &fd,
            SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE,
        )?;
        Ok(SealedBinary { fd })
    }

    /// The path a child process execs it by (the descriptor is inherited up to the
    /// `execve`, which reads the file before closing it).
    pub fn path(&self) -> String {
        format!("/proc/self/fd/{}", self.fd.as_raw_fd())
    }
}
