//! The real node's stats provider (the kubelet's cadvisor stats provider and cadvisor's
//! housekeeping): a Summary of the host ([`super::host_stats`]) and of every running
//! container (`krust_runtime::Runtime::stats`, grouped into pods by their CRI labels).
//! CPU rates (`usageNanoCores`) need two readings: [`Sampler`] keeps the last reading of
//! each counter, refreshed every [`HOUSEKEEPING`] by [`housekeeping`]; a Summary asked for
//! before any reading reads twice, [`MIN_INTERVAL`] apart.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use krust_runtime::ContainerState;

use super::Shared;
use super::container::{LABEL_CONTAINER_NAME, LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID};
use super::host_stats;
use crate::server::stats::{
    ContainerStats, CpuStats, MemoryStats, NetworkStats, NodeStats, PodRef, PodStats, Summary,
};

/// How often counters are read in the background (cadvisor's housekeeping interval).
pub const HOUSEKEEPING: Duration = Duration::from_secs(10);

/// The shortest interval a rate is computed over; a reading sooner keeps the last rate.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The key of the node's own CPU counter in the [`Sampler`].
const NODE_KEY: &str = "/";

/// The last reading of each cumulative CPU counter, and the rate it gave.
#[derive(Default)]
pub struct Sampler {
    last: Mutex<HashMap<String, Reading>>,
}

#[derive(Clone, Copy)]
struct Reading {
    cpu_ns: u64,
    at: Instant,
    nano_cores: Option<u64>,
}

impl Sampler {
    /// Takes in a reading of `key`'s counter and returns its rate over the last interval, in
    /// billionths of a core (`None` before a second reading).
    pub fn rate(&self, key: &str, cpu_ns: u64, at: Instant) -> Option<u64> {
        let mut last = self.last.lock().expect("sampler lock");
        let next = match last.get(key) {
            Some(prev) if at.duration_since(prev.at) < MIN_INTERVAL => return prev.nano_cores,
            Some(prev) => Reading {
                cpu_ns,
                at,
                nano_cores: Some(nano_cores(prev.cpu_ns, cpu_ns, at.duration_since(prev.at))),
            },
            None => Reading {
                cpu_ns,
                at,
                nano_cores: None,
            },
        };
        last.insert(key.to_string(), next);
        next.nano_cores
    }

    /// Whether `key` has been read before.
    pub fn has(&self, key: &str) -> bool {
        self.last.lock().expect("sampler lock").contains_key(key)
    }

    /// Forgets the counters of containers gone.
    pub fn retain(&self, keys: &HashSet<String>) {
        let mut last = self.last.lock().expect("sampler lock");
        last.retain(|k, _| k == NODE_KEY || keys.contains(k));
    }
}

/// Cores used between two readings of a cumulative counter, in billionths of a core (a
/// counter that went back, a restarted container, counts from zero).
pub fn nano_cores(before_ns: u64, after_ns: u64, elapsed: Duration) -> u64 {
    let used = if after_ns >= before_ns {
        after_ns - before_ns
    } else {
        after_ns
    };
    let elapsed = elapsed.as_nanos().max(1);
    (u128::from(used) * 1_000_000_000 / elapsed) as u64
}

/// Reads the counters every [`HOUSEKEEPING`], so that rates are ready when asked for.
pub async fn housekeeping(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(HOUSEKEEPING);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let _ = read(&shared).await;
    }
}

/// The Summary, with rates: read twice when nothing was read before.
pub async fn summary(shared: &Shared) -> Summary {
    if !shared.stats.has(NODE_KEY) {
        let _ = read(shared).await;
        tokio::time::sleep(MIN_INTERVAL).await;
    }
    read(shared).await
}

/// One reading of every counter, as a Summary.
async fn read(shared: &Shared) -> Summary {
    let time = krust_api::meta::now();
    let now = Instant::now();
    let node_cpu = host_stats::cpu_usage_ns();
    let mem = host_stats::memory();
    let (interfaces, default) = host_stats::network();
    let network = default
        .and_then(|d| interfaces.iter().find(|i| i.name == d).cloned())
        .or_else(|| interfaces.first().cloned())
        .map(|default| NetworkStats {
            time: time.clone(),
            default,
            interfaces: interfaces.clone(),
        });
    let node = NodeStats {
        node_name: shared.name.clone(),
        start_time: Some(shared.started.clone()),
        cpu: Some(CpuStats {
            time: time.clone(),
            usage_nano_cores: shared.stats.rate(NODE_KEY, node_cpu, now),
            usage_core_nano_seconds: node_cpu,
        }),
        memory: Some(MemoryStats {
            time: time.clone(),
            available_bytes: Some(mem.total.saturating_sub(mem.working_set)),
            usage_bytes: mem.usage,
            working_set_bytes: mem.working_set,
            rss_bytes: Some(mem.rss),
            page_faults: Some(mem.page_faults),
            major_page_faults: Some(mem.major_page_faults),
        }),
        network,
        fs: host_stats::fs(&shared.opts.data_dir, &time),
        rlimit: host_stats::rlimit(&time),
    };
    Summary {
        node,
        pods: pods(shared, &time).await,
    }
}

/// The running containers' use, grouped into pods.
async fn pods(shared: &Shared, time: &str) -> Vec<PodStats> {
    let containers = shared.runtime.list_containers().await.unwrap_or_default();
    let mut pods: BTreeMap<PodRef, Vec<ContainerStats>> = BTreeMap::new();
    let mut seen = HashSet::new();
    for c in containers {
        let ContainerState::Running { started_at, .. } = c.state else {
            continue;
        };
        let Ok(s) = shared.runtime.stats(&c.id).await else {
            continue;
        };
        let label = |k: &str| c.labels.get(k).cloned().unwrap_or_default();
        let pod = PodRef {
            name: label(LABEL_POD_NAME),
            namespace: label(LABEL_POD_NAMESPACE),
            uid: label(LABEL_POD_UID),
        };
        seen.insert(c.id.clone());
        let at = Instant::now();
        let started = jiff::Timestamp::try_from(started_at)
            .map(krust_api::meta::timestamp)
            .ok();
        pods.entry(pod).or_default().push(ContainerStats {
            name: label(LABEL_CONTAINER_NAME),
            start_time: started,
            cpu: Some(CpuStats {
                time: time.to_string(),
                usage_nano_cores: shared.stats.rate(&c.id, s.cpu_usage_ns, at),
                usage_core_nano_seconds: s.cpu_usage_ns,
            }),
            memory: Some(MemoryStats {
                time: time.to_string(),
                usage_bytes: s.memory_usage_bytes,
                working_set_bytes: s.memory_working_set_bytes,
                ..Default::default()
            }),
        });
    }
    shared.stats.retain(&seen);
    pods.into_iter()
        .map(|(pod_ref, containers)| pod_stats(pod_ref, containers, time))
        .collect()
}

/// A pod's stats: its containers' and their sums.
pub fn pod_stats(pod_ref: PodRef, containers: Vec<ContainerStats>, time: &str) -> PodStats {
    let cpus: Vec<&CpuStats> = containers.iter().filter_map(|c| c.cpu.as_ref()).collect();
    let mems: Vec<&MemoryStats> = containers
        .iter()
        .filter_map(|c| c.memory.as_ref())
        .collect();
    let rates: Option<u64> = cpus.iter().map(|c| c.usage_nano_cores).sum();
    PodStats {
        pod_ref,
        start_time: containers.iter().filter_map(|c| c.start_time.clone()).min(),
        cpu: Some(CpuStats {
            time: time.to_string(),
            usage_nano_cores: rates,
            usage_core_nano_seconds: cpus.iter().map(|c| c.usage_core_nano_seconds).sum(),
        }),
        memory: Some(MemoryStats {
            time: time.to_string(),
            usage_bytes: mems.iter().map(|m| m.usage_bytes).sum(),
            working_set_bytes: mems.iter().map(|m| m.working_set_bytes).sum(),
            ..Default::default()
        }),
        containers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_needs_two_readings_at_least_a_second_apart() {
        let s = Sampler::default();
        let t0 = Instant::now();
        assert_eq!(s.rate("c", 1_000_000_000, t0), None);
        assert_eq!(
            s.rate("c", 1_100_000_000, t0 + Duration::from_millis(10)),
            None
        );
        let half = s.rate("c", 2_000_000_000, t0 + Duration::from_secs(2));
        assert_eq!(half, Some(500_000_000));
        assert_eq!(
            s.rate("c", 9, t0 + Duration::from_millis(2500)),
            Some(500_000_000)
        );
        s.retain(&HashSet::new());
        assert!(!s.has("c"));
    }

    #[test]
    fn a_counter_that_went_back_counts_from_zero() {
        assert_eq!(nano_cores(5_000, 1_000, Duration::from_secs(1)), 1_000);
        assert_eq!(
            nano_cores(0, 3_000_000_000, Duration::from_secs(2)),
            1_500_000_000
        );
    }

    #[test]
    fn a_pod_sums_its_containers() {
        let c = |name: &str, rate: Option<u64>, ns: u64, ws: u64| ContainerStats {
            name: name.into(),
            start_time: Some(format!("2026-12-06T12:00:0{}Z", name.len())),
            cpu: Some(CpuStats {
                time: "t".into(),
                usage_nano_cores: rate,
                usage_core_nano_seconds: ns,
            }),
            memory: Some(MemoryStats {
                time: "t".into(),
                usage_bytes: ws * 2,
                working_set_bytes: ws,
                ..Default::default()
            }),
        };
        let pod = pod_stats(
            PodRef::default(),
            vec![c("a", Some(10), 100, 1), c("bb", Some(5), 50, 2)],
            "t",
        );
        let cpu = pod.cpu.unwrap();
        assert_eq!(
            (cpu.usage_nano_cores, cpu.usage_core_nano_seconds),
            (Some(15), 150)
        );
        assert_eq!(pod.memory.unwrap().working_set_bytes, 3);
        assert_eq!(pod.start_time.as_deref(), Some("2026-12-06T12:00:01Z"));
        let unsampled = pod_stats(
            PodRef::default(),
            vec![c("a", None, 1, 1), c("b", Some(1), 1, 1)],
            "t",
        );
        assert_eq!(unsampled.cpu.unwrap().usage_nano_cores, None);
    }
}
