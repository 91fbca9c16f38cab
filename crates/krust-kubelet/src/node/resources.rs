//! Resources: the pod's QoS class (`pkg/apis/core/v1/helper/qos`), its cgroup under the
//! cgroupfs driver, and cgroup limits for the pod (`cm/helpers_linux.go`:
//! `ResourceConfigForPod`, `MilliCPUToShares`, `MilliCPUToQuota`) and for each container
//! (`kuberuntime_container_linux.go`). Only CPU and memory count for QoS, as upstream.
//! A container's request it does not set is its limit, as API defaulting would store it.
//! Pod-level `spec.resources` (alpha) is not read.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use krust_runtime::{QOS_CGROUPS, Resources};

use krust_api::quantity;

/// The CFS period the kubelet uses, in microseconds (100 ms).
pub const CPU_PERIOD_US: u64 = 100_000;
/// The smallest `cpu.shares` (and that of a BestEffort pod).
pub const MIN_SHARES: u64 = 2;
/// The largest `cpu.shares`.
pub const MAX_SHARES: u64 = 262_144;
/// The smallest CFS quota, in microseconds (1 ms).
pub const MIN_QUOTA_US: i64 = 1_000;

/// A pod's quality of service class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QosClass {
    /// Every container limits CPU and memory, its requests equal to its limits.
    Guaranteed,
    /// Some request or limit, but not Guaranteed.
    Burstable,
    /// No container requests or limits CPU or memory.
    BestEffort,
}

impl QosClass {
    /// The name, as in `status.qosClass`.
    pub fn as_str(self) -> &'static str {
        match self {
            QosClass::Guaranteed => "Guaranteed",
            QosClass::Burstable => "Burstable",
            QosClass::BestEffort => "BestEffort",
        }
    }
}

/// CPU (millicores) and memory (bytes) of one container: (requests, limits), each `None`
/// when unset or zero.
#[derive(Clone, Copy, Debug, Default)]
struct CpuMem {
    cpu: Option<i64>,
    memory: Option<i64>,
}

fn requests_and_limits(c: &Container) -> (CpuMem, CpuMem) {
    let res = c.resources.as_ref();
    let read = |list: Option<&BTreeMap<String, Quantity>>| CpuMem {
        cpu: list
            .and_then(|l| l.get("cpu"))
            .and_then(|q| quantity::milli_value(&q.0))
            .filter(|v| *v > 0),
        memory: list
            .and_then(|l| l.get("memory"))
            .and_then(|q| quantity::value(&q.0))
            .filter(|v| *v > 0),
    };
    let limits = read(res.and_then(|r| r.limits.as_ref()));
    let requests = read(res.and_then(|r| r.requests.as_ref()));
    let requests = CpuMem {
        cpu: requests.cpu.or(limits.cpu),
        memory: requests.memory.or(limits.memory),
    };
    (requests, limits)
}

fn all_containers(pod: &Pod) -> impl Iterator<Item = &Container> {
    let spec = pod.spec.as_ref();
    spec.into_iter().flat_map(|s| {
        s.containers
            .iter()
            .chain(s.init_containers.iter().flatten())
    })
}

/// The pod's QoS class, as Kubernetes computes `status.qosClass`.
pub fn qos_class(pod: &Pod) -> QosClass {
    let (mut req, mut lim) = (CpuMem::default(), CpuMem::default());
    let add = sum;
    let mut guaranteed = true;
    for c in all_containers(pod) {
        let (r, l) = requests_and_limits(c);
        req = CpuMem {
            cpu: add(req.cpu, r.cpu),
            memory: add(req.memory, r.memory),
        };
        lim = CpuMem {
            cpu: add(lim.cpu, l.cpu),
            memory: add(lim.memory, l.memory),
        };
        if l.cpu.is_none() || l.memory.is_none() {
            guaranteed = false;
        }
    }
    let count = |m: CpuMem| usize::from(m.cpu.is_some()) + usize::from(m.memory.is_some());
    if count(req) == 0 && count(lim) == 0 {
        return QosClass::BestEffort;
    }
    let equal = |r: Option<i64>, l: Option<i64>| r.is_none() || r == l;
    if guaranteed
        && equal(req.cpu, lim.cpu)
        && equal(req.memory, lim.memory)
        && count(req) == count(lim)
    {
        QosClass::Guaranteed
    } else {
        QosClass::Burstable
    }
}

/// The pod's cgroup, relative to the cgroup root, as the cgroupfs driver names it.
pub fn cgroup_parent(pod: &Pod) -> String {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let [best_effort, burstable, guaranteed] = QOS_CGROUPS;
    let class = match qos_class(pod) {
        QosClass::Guaranteed => guaranteed,
        QosClass::Burstable => burstable,
        QosClass::BestEffort => best_effort,
    };
    format!("{class}/pod{uid}")
}

/// `cpu.shares` for a CPU request in millicores.
pub fn milli_cpu_to_shares(milli: i64) -> u64 {
    if milli <= 0 {
        return MIN_SHARES;
    }
    let shares = (milli as u64).saturating_mul(1024) / 1000;
    shares.clamp(MIN_SHARES, MAX_SHARES)
}

/// The CFS quota (µs per `period`) for a CPU limit in millicores; 0 for no limit.
pub fn milli_cpu_to_quota(milli: i64, period: u64) -> i64 {
    if milli <= 0 {
        return 0;
    }
    (milli.saturating_mul(period as i64) / 1000).max(MIN_QUOTA_US)
}

/// One container's cgroup limits: shares from its CPU request (its limit when it requests
/// none), quota and period from its CPU limit, its memory limit.
pub fn container_resources(container: &Container) -> Resources {
    let (req, lim) = requests_and_limits(container);
    let quota = lim.cpu.map(|l| milli_cpu_to_quota(l, CPU_PERIOD_US));
    Resources {
        cpu_shares: Some(milli_cpu_to_shares(req.cpu.unwrap_or(0))),
        cpu_quota: quota,
        cpu_period: quota.map(|_| CPU_PERIOD_US),
        memory_limit: lim.memory,
        pids_limit: None,
    }
}

/// What the pod as a whole requests or limits (`PodRequests`/`PodLimits`): the sum of its
/// containers and sidecars, or more if an init container (with the sidecars started
/// before it) needs more, plus the pod's overhead.
fn pod_totals(pod: &Pod, pick: impl Fn(&Container) -> CpuMem) -> CpuMem {
    let spec = pod.spec.as_ref();
    let add = |a: CpuMem, b: CpuMem| CpuMem {
        cpu: sum(a.cpu, b.cpu),
        memory: sum(a.memory, b.memory),
    };
    let max = |a: CpuMem, b: CpuMem| CpuMem {
        cpu: a.cpu.max(b.cpu),
        memory: a.memory.max(b.memory),
    };
    let mut total = CpuMem::default();
    for c in spec.into_iter().flat_map(|s| s.containers.iter()) {
        total = add(total, pick(c));
    }
    let (mut sidecars, mut init_max) = (CpuMem::default(), CpuMem::default());
    for c in spec
        .into_iter()
        .flat_map(|s| s.init_containers.iter().flatten())
    {
        let own = pick(c);
        let needs = if c.restart_policy.as_deref() == Some("Always") {
            total = add(total, own);
            sidecars = add(sidecars, own);
            sidecars
        } else {
            add(own, sidecars)
        };
        init_max = max(init_max, needs);
    }
    max(total, init_max)
}

fn sum(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.saturating_add(b)),
        (a, b) => a.or(b),
    }
}

/// The pod cgroup's limits (`ResourceConfigForPod`): shares from the summed CPU requests;
/// Guaranteed pods also get quota and memory from the summed limits, Burstable pods only
/// those every container limits; BestEffort pods the minimum shares.
pub fn pod_resources(pod: &Pod) -> Resources {
    let overhead = pod
        .spec
        .as_ref()
        .and_then(|s| s.overhead.as_ref())
        .map(|o| CpuMem {
            cpu: o.get("cpu").and_then(|q| quantity::milli_value(&q.0)),
            memory: o.get("memory").and_then(|q| quantity::value(&q.0)),
        })
        .unwrap_or_default();
    let req = pod_totals(pod, |c| requests_and_limits(c).0);
    let lim = pod_totals(pod, |c| requests_and_limits(c).1);
    let cpu_request = sum(req.cpu, overhead.cpu).unwrap_or(0);
    // Overhead counts towards a limit only where one is set.
    let cpu_limit = lim.cpu.map(|l| l + overhead.cpu.unwrap_or(0)).unwrap_or(0);
    let memory_limit = lim
        .memory
        .map(|l| l + overhead.memory.unwrap_or(0))
        .unwrap_or(0);
    // Whether every regular container limits a resource (init containers are not asked,
    // as in `ResourceConfigForPod`).
    let regular = pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or_default();
    let every = |f: fn(&CpuMem) -> bool| regular.iter().all(|c| f(&requests_and_limits(c).1));
    let shares = Some(milli_cpu_to_shares(cpu_request));
    let quota = milli_cpu_to_quota(cpu_limit, CPU_PERIOD_US);
    let with_quota = |r: &mut Resources| {
        r.cpu_quota = Some(quota);
        r.cpu_period = Some(CPU_PERIOD_US);
    };
    let mut r = Resources::default();
    match qos_class(pod) {
        QosClass::Guaranteed => {
            r.cpu_shares = shares;
            with_quota(&mut r);
            r.memory_limit = Some(memory_limit);
        }
        QosClass::Burstable => {
            r.cpu_shares = shares;
            if every(|l| l.cpu.is_some()) {
                with_quota(&mut r);
            }
            if every(|l| l.memory.is_some()) {
                r.memory_limit = Some(memory_limit);
            }
        }
        QosClass::BestEffort => r.cpu_shares = Some(MIN_SHARES),
    }
    r
}

#[cfg(test)]
#[path = "resources_tests.rs"]
mod tests;
