//! The per-container monitor, what conmon is to CRI-O: the krust binary re-executed
//! (`krust monitor run <container dir>`), one per container, detached from the agent so
//! that the container outlives it. It holds the container's stdio, writes the CRI log,
//! waits for the container's process as its child subreaper, records the exit and removes
//! crun's state. `krust monitor crun <crun> <args…>` runs one crun command in the private
//! mount namespace crun needs on this host (`isolate.rs`). crun always runs with an empty
//! environment: it needs none, and the agent's could only slow it (`LD_LIBRARY_PATH`, as
//! `cargo run` sets it, made the loader search a dozen directories for each of crun's ten
//! libraries at every start).

mod attach;
pub(crate) mod isolate;
pub mod log;
mod pump;
mod run;
mod speed;

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::Path;

/// What `krust monitor …` runs; returns the process's exit code. `args` are the words after
/// `monitor`, passed on unparsed (`run <container dir>` or `crun <crun> <args…>`). Call it
/// before starting any thread (a Tokio runtime included): the monitor moves itself into a
/// new mount namespace, which the kernel refuses to a process with several threads.
pub fn monitor_main(args: &[OsString]) -> i32 {
    match args.first().and_then(|a| a.to_str()) {
        Some("run") if args.len() == 2 => run::run(Path::new(&args[1])),
        Some("crun") if args.len() >= 2 => {
            if let Err(e) = isolate::private_mount_namespace() {
                eprintln!("krust monitor: private mount namespace: {e}");
                return 125;
            }
            let sealed = speed::SealedBinary::copy(Path::new(&args[1]));
            let program = match &sealed {
                Ok(sealed) => OsString::from(sealed.path()),
                Err(_) => args[1].clone(),
            };
            let e = std::process::Command::new(program)
                .arg0("crun")
                .args(&args[2..])
                .env_clear()
                .exec();
            eprintln!("krust monitor: running {}: {e}", args[1].to_string_lossy());
            127
        }
        _ => {
            eprintln!("usage: monitor run <container dir> | monitor crun <crun> <args…>");
            2
        }
    }
}
