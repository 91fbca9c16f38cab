//! The per-container monitor, what conmon is to CRI-O: the krust binary re-executed
//! (`krust monitor run <container dir>`), one per container, detached from the agent so
//! that the container outlives it. It starts the container's process (`crate::launch`),
//! holds its stdio, writes the CRI log, waits for it as its child subreaper, records the
//! exit and removes its cgroup; `krust monitor spare <runtime root>` is one started ahead,
//! waiting to be given its container (`crate::spare`). `krust monitor exec <container dir> <process.json>
//! [<console socket>]` starts one process in a running container and waits for it.

mod attach;
mod exec;
pub mod log;
mod pump;
mod run;

use std::ffi::OsString;
use std::path::Path;

/// What `krust monitor …` runs; returns the process's exit code. `args` are the words after
/// `monitor`, passed on unparsed. Call it before starting any thread (a Tokio runtime
/// included): the container's process is forked from this one and prepares itself before
/// it execs, which is only sound in a copy of a single-threaded process.
pub fn monitor_main(args: &[OsString]) -> i32 {
    match (args.first().and_then(|a| a.to_str()), args.len()) {
        (Some("run"), 2) => run::run(Path::new(&args[1])),
        (Some("spare"), 2) => run::spare(),
        (Some("exec"), 3 | 4) => exec::exec(
            Path::new(&args[1]),
            Path::new(&args[2]),
            args.get(3).map(Path::new),
        ),
        _ => {
            eprintln!(
                "usage: monitor run <container dir> | monitor spare <runtime root> | monitor exec \
                 <container dir> <process.json> [<console socket>]"
            );
            2
        }
    }
}
