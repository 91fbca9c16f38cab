//! The real node's pressure conditions (the kubelet's eviction manager's node conditions):
//! `MemoryPressure`, `DiskPressure` and `PIDPressure` measured on the host against the
//! kubelet's default hard eviction thresholds (`memory.available<100Mi`,
//! `nodefs.available<10%`, `nodefs.inodesFree<5%`, read on the node's data filesystem;
//! Kubernetes sets no default `pid.available` threshold, so PIDPressure stays False unless
//! one is given). Images live on that same filesystem and krust has no separate imagefs,
//! so the kubelet's `imagefs.available<15%` is not applied: a kubelet whose image store
//! shares the root disk would report DiskPressure from 15% free already.

use k8s_openapi::api::core::v1::NodeCondition;
use serde_json::{Value, json};
use std::path::Path;

use super::host_stats;

/// The signals the thresholds are checked against.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Signals {
    /// Memory capacity less the working set, in bytes.
    pub memory_available: u64,
    pub fs_available: u64,
    pub fs_capacity: u64,
    pub inodes_free: u64,
    pub inodes: u64,
    /// `pid_max` less the processes running.
    pub pids_available: u64,
    pub pid_max: u64,
}

/// The thresholds, as the kubelet's `evictionHard`.
#[derive(Clone, Debug, PartialEq)]
pub struct Thresholds {
    pub memory_available: u64,
    /// The smallest free fraction of the filesystem (`nodefs.available`).
    pub fs_available: f64,
    pub inodes_free: f64,
    /// The smallest free fraction of pids, if any.
    pub pids_available: Option<f64>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            memory_available: 100 * 1024 * 1024,
            fs_available: 0.10,
            inodes_free: 0.05,
            pids_available: None,
        }
    }
}

/// Which pressures the node is under: (memory, disk, pid).
pub fn pressures(s: &Signals, t: &Thresholds) -> (bool, bool, bool) {
    let below =
        |free: u64, total: u64, fraction: f64| total > 0 && (free as f64) < total as f64 * fraction;
    let memory = s.memory_available < t.memory_available;
    let disk = below(s.fs_available, s.fs_capacity, t.fs_available)
        || below(s.inodes_free, s.inodes, t.inodes_free);
    let pid = t
        .pids_available
        .is_some_and(|f| below(s.pids_available, s.pid_max, f));
    (memory, disk, pid)
}

/// The host's signals now; `data_dir` is the node's filesystem.
pub fn signals(data_dir: &Path) -> Signals {
    let memory = host_stats::memory();
    let fs = host_stats::fs(data_dir, "").unwrap_or_default();
    let rlimit = host_stats::rlimit("").unwrap_or_default();
    Signals {
        memory_available: memory.total.saturating_sub(memory.working_set),
        fs_available: fs.available_bytes,
        fs_capacity: fs.capacity_bytes,
        inodes_free: fs.inodes_free,
        inodes: fs.inodes,
        pids_available: rlimit.maxpid.saturating_sub(rlimit.curproc),
        pid_max: rlimit.maxpid,
    }
}

/// The pressure conditions under pressure, as the kubelet words them: (type, reason,
/// message).
const UNDER_PRESSURE: [(&str, &str, &str); 3] = [
    (
        "MemoryPressure",
        "KubeletHasInsufficientMemory",
        "kubelet has insufficient memory available",
    ),
    (
        "DiskPressure",
        "KubeletHasDiskPressure",
        "kubelet has disk pressure",
    ),
    (
        "PIDPressure",
        "KubeletHasInsufficientPID",
        "kubelet has insufficient PID available",
    ),
];

/// `conditions` (the kubelet's, all without pressure) with those under pressure turned
/// True; a transition time kept from `seen` while the status is unchanged.
pub fn apply(
    mut conditions: Value,
    (memory, disk, pid): (bool, bool, bool),
    seen: &[NodeCondition],
) -> Value {
    let now = krust_api::meta::now();
    for ((type_, reason, message), on) in UNDER_PRESSURE.iter().zip([memory, disk, pid]) {
        if !on {
            continue;
        }
        let since = seen
            .iter()
            .find(|c| c.type_ == *type_ && c.status == "True")
            .and_then(|c| c.last_transition_time.as_ref())
            .map(|t| krust_api::meta::timestamp(t.0))
            .unwrap_or_else(|| now.clone());
        for c in conditions.as_array_mut().into_iter().flatten() {
            if c["type"] == *type_ {
                c["status"] = json!("True");
                c["reason"] = json!(reason);
                c["message"] = json!(message);
                c["lastTransitionTime"] = json!(since);
            }
        }
    }
    conditions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roomy() -> Signals {
        Signals {
            memory_available: 1 << 30,
            fs_available: 50,
            fs_capacity: 100,
            inodes_free: 50,
            inodes: 100,
            pids_available: 1,
            pid_max: 100,
        }
    }

    #[test]
    fn the_default_thresholds_are_the_kubelets_eviction_hard() {
        let t = Thresholds::default();
        assert_eq!(pressures(&roomy(), &t), (false, false, false));
        let low_memory = Signals {
            memory_available: 99 << 20,
            ..roomy()
        };
        assert_eq!(pressures(&low_memory, &t), (true, false, false));
        let full = Signals {
            fs_available: 9,
            ..roomy()
        };
        assert_eq!(pressures(&full, &t), (false, true, false));
        let eleven_percent = Signals {
            fs_available: 11,
            ..roomy()
        };
        assert_eq!(pressures(&eleven_percent, &t), (false, false, false));
        let no_inodes = Signals {
            inodes_free: 4,
            ..roomy()
        };
        assert_eq!(pressures(&no_inodes, &t), (false, true, false));
        let pid_limit = Thresholds {
            pids_available: Some(0.1),
            ..t
        };
        assert_eq!(pressures(&roomy(), &pid_limit), (false, false, true));
    }

    #[test]
    fn a_pressure_turns_its_condition_true_in_the_kubelets_words() {
        let base = crate::registration::conditions(&[]);
        let got = apply(base, (false, true, false), &[]);
        let disk = got
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "DiskPressure")
            .unwrap();
        assert_eq!(
            (disk["status"].as_str(), disk["reason"].as_str()),
            (Some("True"), Some("KubeletHasDiskPressure"))
        );
        let memory = got
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "MemoryPressure")
            .unwrap();
        assert_eq!(memory["status"], "False");
    }

    #[test]
    fn the_hosts_signals_are_read_from_proc_and_statvfs() {
        let s = signals(Path::new("/"));
        assert!(s.fs_capacity > 0 && s.memory_available > 0 && s.pid_max > 0);
    }
}
