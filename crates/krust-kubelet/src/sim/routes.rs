//! Network safety for simulated pods: every pod CIDR a sim node hands addresses from is
//! routed `unreachable` on this host while the sim nodes run, so a client that dials a sim
//! pod (the Kubernetes e2e suite does) gets "no route to host" at once instead of sending
//! packets out through the default route (DESIGN.md's network-safety rule; a real node routes
//! its pod CIDR to its bridge for the same reason).
//!
//! Routes are added with `ip route add` (iproute2), marked with krust's routing protocol
//! number, never replaced: a route someone else already has for that range (a real node's
//! bridge, k3s on the same host) is left alone, while one krust left behind (a process that
//! was killed) is taken over. The routes this process holds are removed when the sim nodes
//! stop (on drop, so also when a test fails). Without the rights to add routes (not root),
//! one warning says so. `ip` runs synchronously: once per range, a few milliseconds.

use std::collections::HashMap;
use std::process::Command;
use std::sync::Mutex;

/// The routing protocol number krust marks its routes with (`proto 107` in `ip route`).
const PROTO: &str = "107";

/// The pod ranges this process tried to route, and whether it holds the route of each.
#[derive(Default)]
pub struct Routes {
    /// Held while a range is being added, so no pod of that range gets an address before
    /// its route is in place.
    ranges: Mutex<HashMap<String, bool>>,
}

impl Routes {
    /// Routes `cidr` locally unless it was tried before. Returns whether this process holds
    /// a route for it now.
    pub fn ensure(&self, cidr: &str) -> bool {
        let mut ranges = self.ranges.lock().expect("lock");
        if let Some(held) = ranges.get(cidr) {
            return *held;
        }
        let held = match ip(&["route", "add", "unreachable", cidr, "proto", PROTO]) {
            Ok(()) => true,
            Err(why) if why.contains("File exists") => {
                let left_by_krust =
                    ip_output(&["route", "show", "type", "unreachable", cidr, "proto", PROTO])
                        .is_some_and(|out| !out.trim().is_empty());
                tracing::debug!(%cidr, left_by_krust, "pod range already routed on this host");
                left_by_krust
            }
            Err(why) => {
                tracing::warn!(%cidr, %why, "could not route a sim pod range locally: packets to its addresses may leave this host");
                false
            }
        };
        ranges.insert(cidr.to_string(), held);
        held
    }
}

impl Drop for Routes {
    fn drop(&mut self) {
        let ranges = self.ranges.get_mut().expect("lock");
        for (cidr, _) in ranges.drain().filter(|(_, held)| *held) {
            if let Err(why) = ip(&["route", "del", "unreachable", &cidr, "proto", PROTO]) {
                tracing::warn!(%cidr, %why, "could not remove a sim pod route");
            }
        }
    }
}

/// Runs `ip` with `args`; the error is what it printed.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("running ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// What `ip` with `args` printed, if it succeeded.
fn ip_output(args: &[&str]) -> Option<String> {
    let out = Command::new("ip").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
