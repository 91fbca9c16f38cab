//! The last steps before a container's process (or an exec's) runs, in it, as runc's
//! `finalizeNamespace` and `setupUser` take them: its working directory (made when
//! missing), umask, a session (with the terminal as its controlling terminal), the
//! executable looked up as `execvp` will, `no_new_privs`, the seccomp program, then its
//! groups, user and capabilities: the bounding set cut to the spec's, the ids changed with
//! the permitted set kept, effective and permitted set to the spec's, no inheritable ones.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rustix::fs::{Gid, Uid};
use rustix::thread::{CapabilitySet, CapabilitySets};

use super::Failure;
use super::config::Process;
use crate::capabilities::{ALL_CAPABILITIES, capability_name};
use crate::seccomp::filter::Instruction;

/// The usual `PATH` when the process's environment has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Takes the steps; `last_cap` is the highest capability the kernel knows.
pub fn finish(
    process: &Process,
    seccomp: Option<&[Instruction]>,
    last_cap: u32,
) -> Result<(), Failure> {
    let cwd = if process.cwd.is_empty() {
        "/"
    } else {
        process.cwd.as_str()
    };
    std::fs::create_dir_all(cwd)
        .and_then(|()| std::env::set_current_dir(cwd))
        .map_err(|e| Failure::new(format!("changing to the working directory {cwd}"), e))?;
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    rustix::process::setsid().map_err(|e| Failure::new("setsid", e.into()))?;
    if process.terminal {
        rustix::process::ioctl_tiocsctty(rustix::stdio::stdin())
            .map_err(|e| Failure::new("setting the controlling terminal", e.into()))?;
    }
    executable(&process.args[0], &process.env).map_err(Failure::message)?;
    if process.no_new_privileges {
        rustix::thread::set_no_new_privs(true)
            .map_err(|e| Failure::new("setting no_new_privs", e.into()))?;
    }
    if let Some(program) = seccomp {
        crate::kernel::load_seccomp(program)
            .map_err(|e| Failure::new("loading the seccomp program", e))?;
    }
    identity(process, last_cap).map_err(|e| Failure::new("changing user and capabilities", e))
}

/// Groups, user, capabilities.
fn identity(process: &Process, last_cap: u32) -> io::Result<()> {
    let caps = &process.capabilities;
    let bounding = set(&caps.bounding);
    for bit in 0..=last_cap.min(63) {
        let cap = CapabilitySet::from_bits_retain(1 << bit);
        if !bounding.contains(cap) {
            rustix::thread::remove_capability_from_bounding_set(cap)?;
        }
    }
    let user = &process.user;
    let groups: Vec<Gid> = user
        .additional_gids
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    rustix::thread::set_thread_groups(&groups)?;
    rustix::thread::set_keep_capabilities(true)?;
    let gid = Gid::from_raw(user.gid);
    rustix::thread::set_thread_res_gid(gid, gid, gid)?;
    let uid = Uid::from_raw(user.uid);
    rustix::thread::set_thread_res_uid(uid, uid, uid)?;
    rustix::thread::set_capabilities(
        None,
        CapabilitySets {
            effective: set(&caps.effective),
            permitted: set(&caps.permitted),
            inheritable: CapabilitySet::empty(),
        },
    )?;
    rustix::thread::set_keep_capabilities(false)?;
    Ok(())
}

/// Capabilities by name as a set (names the kernel table lacks are left out).
fn set(names: &[String]) -> CapabilitySet {
    let mut bits = 0u64;
    for name in names {
        let name = capability_name(name);
        if let Some(bit) = ALL_CAPABILITIES.iter().position(|c| *c == name) {
            bits |= 1 << bit;
        }
    }
    CapabilitySet::from_bits_retain(bits)
}

/// Whether `program` can run, found as `execvp` finds it; else runc's words for why not.
fn executable(program: &str, env: &[String]) -> Result<(), String> {
    if program.contains('/') {
        return match std::fs::metadata(program) {
            Ok(meta) if meta.is_dir() => Err(format!("exec: {program:?}: is a directory")),
            Ok(_) => Ok(()),
            Err(e) => Err(format!(
                "exec: {program:?}: stat {program}: {}",
                describe(&e)
            )),
        };
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    let found = path.split(':').any(|dir| {
        let dir = if dir.is_empty() { "." } else { dir };
        std::fs::metadata(Path::new(dir).join(program))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    });
    if found {
        Ok(())
    } else {
        Err(format!(
            "exec: {program:?}: executable file not found in $PATH"
        ))
    }
}

/// An error as Go words it (`no such file or directory`).
fn describe(e: &io::Error) -> String {
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    text.to_lowercase()
}
