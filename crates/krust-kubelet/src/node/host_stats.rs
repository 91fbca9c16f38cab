//! The host's resource use, read as cadvisor reads the machine's root container on cgroup
//! v1: CPU time (`cpuacct.usage` of the root cgroup), memory (root `memory.usage_in_bytes`
//! less `total_inactive_file`, with `MemTotal` for what is available), the data
//! filesystem (`statvfs`), network interfaces (`/proc/net/dev`, the default route's from
//! `/proc/net/route`) and processes (`/proc/loadavg`, `kernel/pid_max`).

use crate::server::stats::{FsStats, InterfaceStats, RlimitStats};
use std::path::Path;

const CGROUP: &str = "/sys/fs/cgroup";

/// The root cgroup's memory counters, in bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostMemory {
    pub total: u64,
    pub usage: u64,
    pub working_set: u64,
    pub rss: u64,
    pub page_faults: u64,
    pub major_page_faults: u64,
}

/// CPU time the whole host has used, in nanoseconds: the root cgroup's `cpuacct.usage`,
/// else `/proc/stat`'s busy jiffies.
pub fn cpu_usage_ns() -> u64 {
    read(&format!("{CGROUP}/cpuacct/cpuacct.usage"))
        .and_then(|s| s.trim().parse().ok())
        .or_else(|| read("/proc/stat").and_then(|s| proc_stat_busy_ns(&s)))
        .unwrap_or(0)
}

/// Busy time from the `cpu` line of `/proc/stat` (all but idle and iowait), in ns (jiffies
/// of 10 ms, Linux's `USER_HZ`).
pub fn proc_stat_busy_ns(stat: &str) -> Option<u64> {
    let fields: Vec<u64> = stat
        .lines()
        .find(|l| l.starts_with("cpu "))?
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let busy: u64 = fields
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    Some(busy * 10_000_000)
}

/// The host's memory, from the root memory cgroup and `/proc/meminfo`.
pub fn memory() -> HostMemory {
    let meminfo = read("/proc/meminfo").unwrap_or_default();
    let total = meminfo_kib(&meminfo, "MemTotal").unwrap_or(0) * 1024;
    let stat = read(&format!("{CGROUP}/memory/memory.stat")).unwrap_or_default();
    let usage = read(&format!("{CGROUP}/memory/memory.usage_in_bytes"))
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            total.saturating_sub(meminfo_kib(&meminfo, "MemFree").unwrap_or(0) * 1024)
        });
    memory_from(total, usage, &stat)
}

/// The memory figures from the root cgroup's `usage` and `memory.stat`.
pub fn memory_from(total: u64, usage: u64, stat: &str) -> HostMemory {
    let field = |name: &str| {
        stat.lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == name).then(|| v.trim().parse::<u64>().ok()).flatten()
        })
    };
    HostMemory {
        total,
        usage,
        working_set: usage.saturating_sub(field("total_inactive_file").unwrap_or(0)),
        rss: field("total_rss").unwrap_or(0),
        page_faults: field("total_pgfault").unwrap_or(0),
        major_page_faults: field("total_pgmajfault").unwrap_or(0),
    }
}

/// A `/proc/meminfo` value in KiB.
pub fn meminfo_kib(meminfo: &str, name: &str) -> Option<u64> {
    meminfo.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Space and inodes of the filesystem holding `dir`.
pub fn fs(dir: &Path, time: &str) -> Option<FsStats> {
    let s = rustix::fs::statvfs(dir).ok()?;
    Some(FsStats {
        time: time.to_string(),
        available_bytes: s.f_bavail * s.f_frsize,
        capacity_bytes: s.f_blocks * s.f_frsize,
        used_bytes: s.f_blocks.saturating_sub(s.f_bfree) * s.f_frsize,
        inodes_free: s.f_ffree,
        inodes: s.f_files,
        inodes_used: s.f_files.saturating_sub(s.f_ffree),
    })
}

/// Processes running and the most there may be.
pub fn rlimit(time: &str) -> Option<RlimitStats> {
    let maxpid = read("/proc/sys/kernel/pid_max")?.trim().parse().ok()?;
    let curproc = loadavg_processes(&read("/proc/loadavg")?)?;
    Some(RlimitStats {
        time: time.to_string(),
        maxpid,
        curproc,
    })
}

/// The process count of `/proc/loadavg` (`running/total`'s total).
pub fn loadavg_processes(loadavg: &str) -> Option<u64> {
    loadavg
        .split_whitespace()
        .nth(3)?
        .split_once('/')?
        .1
        .parse()
        .ok()
}

/// Every interface but `lo`, and the one the default route leaves by.
pub fn network() -> (Vec<InterfaceStats>, Option<String>) {
    let interfaces = read("/proc/net/dev")
        .map(|d| net_dev(&d))
        .unwrap_or_default();
    let default = read("/proc/net/route").and_then(|r| default_interface(&r));
    (interfaces, default)
}

/// The interfaces of `/proc/net/dev`, but `lo`.
pub fn net_dev(dev: &str) -> Vec<InterfaceStats> {
    dev.lines()
        .skip(2)
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let f: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            (f.len() >= 11 && name.trim() != "lo").then(|| InterfaceStats {
                name: name.trim().to_string(),
                rx_bytes: f[0],
                rx_errors: f[2],
                tx_bytes: f[8],
                tx_errors: f[10],
            })
        })
        .collect()
}

/// The interface of the default route in `/proc/net/route`.
pub fn default_interface(route: &str) -> Option<String> {
    route.lines().skip(1).find_map(|l| {
        let mut f = l.split_whitespace();
        let name = f.next()?;
        (f.next()? == "00000000").then(|| name.to_string())
    })
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_cpu_time_leaves_out_idle_and_iowait() {
        let stat = "cpu  100 5 50 9000 20 1 2 3 0 0\ncpu0 1 1 1 1 1 1 1 1 0 0\n";
        assert_eq!(proc_stat_busy_ns(stat), Some(161 * 10_000_000));
    }

    #[test]
    fn the_working_set_is_usage_less_inactive_files() {
        let stat = "cache 5\ntotal_rss 300\ntotal_inactive_file 400\ntotal_pgfault 7\ntotal_pgmajfault 1\n";
        let m = memory_from(4096, 1000, stat);
        assert_eq!(
            (m.working_set, m.rss, m.page_faults, m.major_page_faults),
            (600, 300, 7, 1)
        );
        assert_eq!(memory_from(4096, 100, stat).working_set, 0);
    }

    #[test]
    fn meminfo_values_are_found_by_exact_name() {
        let meminfo = "MemTotal:  100 kB\nMemFree:  40 kB\nMemAvailable:  60 kB\n";
        assert_eq!(meminfo_kib(meminfo, "MemFree"), Some(40));
        assert_eq!(meminfo_kib(meminfo, "MemAvailable"), Some(60));
        assert_eq!(meminfo_kib(meminfo, "Mem"), None);
    }

    #[test]
    fn interfaces_and_the_default_route_are_read_from_proc() {
        let dev = "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n    lo: 10 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n  eth0: 2000 20 3 0 0 0 0 0 1000 10 4 0 0 0 0 0\n";
        let got = net_dev(dev);
        assert_eq!(got.len(), 1);
        assert_eq!(
            (
                got[0].name.as_str(),
                got[0].rx_bytes,
                got[0].rx_errors,
                got[0].tx_bytes,
                got[0].tx_errors
            ),
            ("eth0", 2000, 3, 1000, 4)
        );
        let route =
            "Iface\tDestination\tGateway\neth1\t000200C0\t00000000\neth0\t00000000\t010200C0\n";
        assert_eq!(default_interface(route).as_deref(), Some("eth0"));
        assert_eq!(loadavg_processes("0.1 0.2 0.3 2/198 9334\n"), Some(198));
    }

    #[test]
    fn this_host_has_cpu_time_memory_and_a_filesystem() {
        assert!(cpu_usage_ns() > 0);
        let m = memory();
        assert!(m.total > 0 && m.working_set > 0 && m.working_set <= m.usage);
        let fs = fs(Path::new("/"), "t").expect("statvfs of /");
        assert!(fs.capacity_bytes >= fs.available_bytes && fs.inodes > 0);
        assert!(rlimit("t").expect("rlimit").curproc > 0);
    }
}
