//! Two costs of starting a container that are the kernel's and crun's, not the work's, cut
//! from the monitor's critical path (measured with `strace -T` on this host):
//!
//! - crun re-executes itself from a copy of its own binary (the runc CVE-2019-5736
//!   defence): a bind mount of `/proc/self/exe`, its unmount and unlink, and an `execveat`,
//!   ~3–5 ms. A binary that already is a fully sealed memfd is trusted as is, so the
//!   monitor runs crun from one.
//! - The first cgroup v1 migration after a quiet spell waits for an RCU grace period (the
//!   cgroup threadgroup semaphore switching to its writer mode), 5–15 ms here under load.
//!   A no-op migration started in the background as soon as the monitor starts overlaps
//!   that wait with crun's own start, so crun's move of the container finds it passed.

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

/// Moves this process into the cgroup it is in (a no-op migration) in the background.
pub fn start_cgroup_grace_period() {
    std::thread::spawn(|| {
        let Ok(cgroups) = std::fs::read_to_string("/proc/self/cgroup") else {
            return;
        };
        for line in cgroups.lines() {
            let mut fields = line.splitn(3, ':');
            let (Some(_), Some(controllers), Some(path)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            if controllers == "pids" || controllers == "memory" {
                let procs = Path::new(crate::cgroup::MOUNT)
                    .join(controllers)
                    .join(path.trim_start_matches('/'))
                    .join("cgroup.procs");
                let _ = std::fs::write(procs, std::process::id().to_string());
                return;
            }
        }
    });
}
