//! The figures `krust-bench pods` prints: percentiles of latency samples, and the memory of
//! processes read from `/proc` (what `ps` and the kubelet's own summary API read).

use std::path::Path;
use std::time::Duration;

/// The `p`-th percentile (0–100) of `samples` by the nearest-rank method: the smallest sample
/// with at least `p` % of the samples at or below it. Zero for no samples.
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Median, 99th percentile and maximum of a set of samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub count: usize,
}

impl Summary {
    pub fn of(samples: &[Duration]) -> Summary {
        Summary {
            p50: percentile(samples, 50.0),
            p99: percentile(samples, 99.0),
            max: percentile(samples, 100.0),
            count: samples.len(),
        }
    }

    /// `p50 12.3 ms, p99 20.1 ms (n = 30)`.
    pub fn line(&self) -> String {
        format!(
            "p50 {}, p99 {} (n = {})",
            ms(self.p50),
            ms(self.p99),
            self.count
        )
    }
}

/// A duration in milliseconds, one decimal.
pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// A field of `/proc/PID/status` or `/proc/PID/smaps_rollup` given in kB (`VmRSS:  1234 kB`),
/// in bytes.
pub fn kib_field(text: &str, field: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        let kib: u64 = rest.trim().strip_suffix("kB")?.trim().parse().ok()?;
        Some(kib * 1024)
    })
}

/// What one process holds: its resident set and its proportional share of it (pages shared
/// with other processes, such as the krust binary's text mapped by every monitor, divided
/// among them).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Memory {
    pub rss: u64,
    pub pss: u64,
}

impl std::ops::Add for Memory {
    type Output = Memory;
    fn add(self, other: Memory) -> Memory {
        Memory {
            rss: self.rss + other.rss,
            pss: self.pss + other.pss,
        }
    }
}

/// The memory of process `pid` now; `None` once it is gone.
pub fn memory_of(pid: u32) -> Option<Memory> {
    let dir = Path::new("/proc").join(pid.to_string());
    let rollup = std::fs::read_to_string(dir.join("smaps_rollup")).ok()?;
    Some(Memory {
        rss: kib_field(&rollup, "Rss")?,
        pss: kib_field(&rollup, "Pss")?,
    })
}

/// Whether a NUL-separated `/proc/PID/cmdline` is a container monitor of the node whose data
/// directory is `data_dir`: `KRUST monitor run DATA_DIR/runtime/containers/ID`, or its spare
/// monitor (waiting, or running the container it was given since):
/// `KRUST monitor spare DATA_DIR/runtime`.
pub fn is_monitor_of(cmdline: &[u8], data_dir: &Path) -> bool {
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let path = |arg: &[u8]| std::path::PathBuf::from(std::str::from_utf8(arg).unwrap_or(""));
    let runtime = data_dir.join("runtime");
    match args.get(1..4) {
        Some([b"monitor", b"run", dir]) => path(dir).starts_with(runtime.join("containers")),
        Some([b"monitor", b"spare", root]) => path(root) == runtime,
        _ => false,
    }
}

/// The pids of the monitors of the node at `data_dir`.
pub fn monitors_of(data_dir: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| is_monitor_of(&cmdline, data_dir))
        })
        .collect()
}

/// Bytes in MiB.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The host's memory cgroups (`num_cgroups` of `memory` in `/proc/cgroups`): removed ones
/// stay while page cache charged to them does, and many of them slow every container's
/// start (krust's, runc's and podman's alike), so the report says how many there were.
pub fn memory_cgroups() -> Option<u64> {
    memory_cgroups_in(&std::fs::read_to_string("/proc/cgroups").ok()?)
}

fn memory_cgroups_in(text: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields[..] {
            ["memory", _, count, _] => count.parse().ok(),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|m| Duration::from_millis(*m)).collect()
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let s = millis(&[50, 10, 40, 20, 30]);
        assert_eq!(percentile(&s, 50.0), Duration::from_millis(30));
        assert_eq!(percentile(&s, 99.0), Duration::from_millis(50));
        assert_eq!(percentile(&s, 0.0), Duration::from_millis(10));
        assert_eq!(percentile(&s, 20.0), Duration::from_millis(10));
        assert_eq!(percentile(&s, 21.0), Duration::from_millis(20));
        let hundred: Vec<u64> = (1..=100).collect();
        assert_eq!(
            percentile(&millis(&hundred), 99.0),
            Duration::from_millis(99)
        );
    }

    #[test]
    fn no_samples_give_zero_and_one_sample_is_every_percentile() {
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
        let one = Summary::of(&millis(&[7]));
        assert_eq!(
            (one.p50, one.p99, one.max),
            (
                Duration::from_millis(7),
                Duration::from_millis(7),
                Duration::from_millis(7)
            )
        );
        assert_eq!(one.line(), "p50 7.0 ms, p99 7.0 ms (n = 1)");
    }

    #[test]
    fn kib_fields_of_proc_files_are_read_in_bytes() {
        let status = "Name:\tkrust\nVmHWM:\t   51200 kB\nVmRSS:\t   30720 kB\nThreads:\t9\n";
        assert_eq!(kib_field(status, "VmRSS"), Some(30 << 20));
        assert_eq!(kib_field(status, "VmHWM"), Some(50 << 20));
        assert_eq!(kib_field(status, "Threads"), None);
        assert_eq!(kib_field(status, "VmSwap"), None);
        let rollup = "00400000-7ffd [rollup]\nRss:                2048 kB\nPss:                 512 kB\nPss_Anon:  100 kB\n";
        assert_eq!(kib_field(rollup, "Pss"), Some(512 << 10));
        assert_eq!(kib_field(rollup, "Rss"), Some(2 << 20));
    }

    #[test]
    fn only_monitors_of_this_nodes_data_directory_are_counted() {
        let dir = Path::new("/tmp/krt-bench-1");
        let ours = b"/x/krust\0monitor\0run\0/tmp/krt-bench-1/runtime/containers/abc\0";
        let other = b"/x/krust\0monitor\0run\0/var/lib/krust/runtime/containers/abc\0";
        let server = b"/x/krust\0server\0--data-dir\0/tmp/krt-bench-1\0";
        let spare = b"/x/krust\0monitor\0spare\0/tmp/krt-bench-1/runtime\0";
        let others = b"/x/krust\0monitor\0spare\0/var/lib/krust/runtime\0";
        assert!(is_monitor_of(ours, dir));
        assert!(is_monitor_of(spare, dir));
        assert!(!is_monitor_of(others, dir));
        assert!(!is_monitor_of(other, dir));
        assert!(!is_monitor_of(server, dir));
        assert!(!is_monitor_of(b"", dir));
    }

    #[test]
    fn memories_add_up() {
        let a = Memory { rss: 3, pss: 1 };
        assert_eq!(a + a, Memory { rss: 6, pss: 2 });
    }

    #[test]
    fn the_memory_line_of_proc_cgroups_gives_the_count() {
        let text =
            "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t3\t1\t1\nmemory\t4\t346\t1\n";
        assert_eq!(memory_cgroups_in(text), Some(346));
        assert_eq!(memory_cgroups_in("cpu\t1\t1\t1\n"), None);
    }
}
