//! The `krust` binary run as a user other than root: as `nobody` when the test runs as root
//! (`setpriv` drops to it), else as the test's own user.

use std::process::Command;

/// A command running `krust` as a user other than root.
pub fn krust() -> Command {
    if rustix::process::geteuid().is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_krust"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_krust"))
    }
}
