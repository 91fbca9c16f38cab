//! The runtime's only unsafe code, where no safe interface to the kernel exists: running a
//! container's setup in the forked child before it execs, and loading its seccomp program.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

use crate::seccomp::filter::Instruction;

/// Spawns `command`, running `setup` in the child between fork and exec (an error from it
/// is `spawn`'s error).
///
/// Call it only from a single-threaded process (the monitor, before it starts any thread):
/// the child then has every lock as the parent left it, so `setup` may allocate, which it
/// could not after a fork of a multi-threaded process.
pub fn spawn_with_setup(
    command: &mut Command,
    setup: impl FnMut() -> io::Result<()> + Send + Sync + 'static,
) -> io::Result<Child> {
    // SAFETY: see above; the monitor calls this before any thread exists, so the forked
    // child is a copy of a single-threaded process and `setup` may do anything the parent
    // could.
    unsafe { command.pre_exec(setup) };
    command.spawn()
}

/// Loads `program` as this thread's seccomp filter (`SECCOMP_SET_MODE_FILTER`), to stay
/// across `execve`. Needs `no_new_privs` or `CAP_SYS_ADMIN`.
pub fn load_seccomp(program: &[Instruction]) -> io::Result<()> {
    let mut filters: Vec<libc::sock_filter> = program
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    let len = u16::try_from(filters.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "seccomp program too long"))?;
    let fprog = libc::sock_fprog {
        len,
        filter: filters.as_mut_ptr(),
    };
    // SAFETY: `fprog` points at `len` valid instructions, alive for the call; the kernel
    // copies the program.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &fprog as *const libc::sock_fprog,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
