//! Container starts without an RCU grace period. Every container's process moves into its
//! cgroup, which takes the kernel's cgroup threadgroup semaphore for writing; after a
//! quiet spell that waits for an RCU grace period first, most of a cold start here
//! (measured with crun, which the runtime used then: `crun run --detach` of the same
//! bundle 20–28 ms half a second apart, 6–7 ms back to back). The cgroup mount option `favordynmods` (Linux 6.0) keeps the semaphore in its
//! writer-friendly mode while a hierarchy mounted with it exists, at the price of slightly
//! dearer forks and exits: the trade a node that starts containers wants (measured with it:
//! 8.5–12 ms half a second apart).
//!
//! The runtime mounts an empty named v1 hierarchy (`none,name=krust,favordynmods`) in a
//! private mount namespace of one thread that then only waits, so the host sees no mount,
//! and the hierarchy and its effect go when the process ends, however it ends.

use std::io;
use std::path::Path;
use std::sync::OnceLock;

use rustix::mount::MountFlags;

/// Whether this process holds the hierarchy (`Err`: why not; then starts are slower).
static HELD: OnceLock<Result<(), String>> = OnceLock::new();

/// Mounts the hierarchy once per process; later calls return the first call's outcome.
pub fn favor_dynamic_changes() -> Result<(), String> {
    HELD.get_or_init(|| {
        let (done, outcome) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("krust-dynmods".to_string())
            .spawn(move || {
                let held = hold();
                let holding = held.is_ok();
                let _ = done.send(held);
                // The mount lives as long as this thread's namespace, so the thread stays.
                if holding {
                    loop {
                        std::thread::park();
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        match outcome.recv() {
            Ok(held) => held.map_err(|e| format!("mounting a favordynmods cgroup hierarchy: {e}")),
            Err(_) => Err("the thread holding the cgroup hierarchy ended".to_string()),
        }
    })
    .clone()
}

/// On the calling thread: a private mount namespace, and the hierarchy mounted over the
/// cgroup directory there.
fn hold() -> io::Result<()> {
    crate::launch::private_mount_namespace()?;
    rustix::mount::mount(
        "cgroup",
        Path::new(crate::cgroup::MOUNT),
        "cgroup",
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        Some(c"none,name=krust,favordynmods"),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hierarchy_is_held_by_one_thread_and_the_host_sees_no_mount() {
        assert_eq!(favor_dynamic_changes(), Ok(()));
        assert_eq!(favor_dynamic_changes(), Ok(()), "once per process");
        let mounts = |task: &Path| std::fs::read_to_string(task.join("mountinfo")).unwrap();
        assert!(!mounts(Path::new("/proc/self")).contains("name=krust"));
        let holders = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter(|t| mounts(&t.as_ref().unwrap().path()).contains("favordynmods,name=krust"))
            .count();
        assert_eq!(holders, 1);
    }
}
