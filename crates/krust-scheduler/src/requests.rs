//! Resource amounts: what a pod requests and what a node offers.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::view::PodSpec;
use krust_api::quantity;

/// `DefaultMilliCPURequest`: the CPU a container without a request counts for when scoring.
pub const DEFAULT_MILLI_CPU: i64 = 100;
/// `DefaultMemoryRequest`: the memory a container without a request counts for when scoring.
pub const DEFAULT_MEMORY: i64 = 200 * 1024 * 1024;

/// Amounts of resources: CPU in millicores, memory and storage in bytes, extended resources
/// (`example.com/gpu`, `hugepages-2Mi`) in units.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// Extended resources, sorted by name.
    pub scalar: Vec<(String, i64)>,
}

impl Resources {
    /// From a `ResourceList` (`requests`, `allocatable`, `overhead`).
    pub fn from_list(list: &BTreeMap<String, Quantity>) -> Self {
        let mut r = Self::default();
        for (name, q) in list {
            match name.as_str() {
                "cpu" => r.milli_cpu = quantity::milli_value(&q.0).unwrap_or(0),
                "memory" => r.memory = quantity::value(&q.0).unwrap_or(0),
                "ephemeral-storage" => r.ephemeral_storage = quantity::value(&q.0).unwrap_or(0),
                "pods" | "storage" => {}
                other => r
                    .scalar
                    .push((other.to_string(), quantity::value(&q.0).unwrap_or(0))),
            }
        }
        r
    }

    #[cfg(test)]
    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.iter().all(|(_, v)| *v == 0)
    }

    /// The amount of an extended resource (0 when absent).
    pub fn scalar(&self, name: &str) -> i64 {
        self.scalar
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .map(|i| self.scalar[i].1)
            .unwrap_or(0)
    }

    fn scalar_mut(&mut self, name: &str) -> &mut i64 {
        let i = match self.scalar.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) => i,
            Err(i) => {
                self.scalar.insert(i, (name.to_string(), 0));
                i
            }
        };
        &mut self.scalar[i].1
    }

    /// `self += sign * other`.
    pub fn add(&mut self, other: &Self, sign: i64) {
        self.milli_cpu += sign * other.milli_cpu;
        self.memory += sign * other.memory;
        self.ephemeral_storage += sign * other.ephemeral_storage;
        for (name, v) in &other.scalar {
            *self.scalar_mut(name) += sign * v;
        }
    }

    /// `self = max(self, other)`, per resource.
    pub fn set_max(&mut self, other: &Self) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (name, v) in &other.scalar {
            let s = self.scalar_mut(name);
            *s = (*s).max(*v);
        }
    }
}

/// What a pod asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodRequests {
    /// The effective requests (`resourcehelper.PodRequests`): the sum over containers,
    /// sidecars (restartable init containers) included, or the largest init container step
    /// if bigger, plus the pod overhead.
    pub requests: Resources,
    /// CPU and memory with a default for containers that request none (for scoring only,
    /// so that pods without requests still spread).
    pub non_zero_cpu: i64,
    pub non_zero_memory: i64,
}

/// The requests of a pod, with the init-container rules of `resourcehelper.PodRequests`.
pub fn pod_requests(spec: &PodSpec) -> PodRequests {
    let non_zero = |r: &Resources| {
        let mut r = r.clone();
        if r.milli_cpu == 0 {
            r.milli_cpu = DEFAULT_MILLI_CPU;
        }
        if r.memory == 0 {
            r.memory = DEFAULT_MEMORY;
        }
        r
    };
    let mut reqs = Resources::default();
    let mut nz = Resources::default();
    for c in &spec.containers {
        let r = Resources::from_list(&c.resources.requests);
        nz.add(&non_zero(&r), 1);
        reqs.add(&r, 1);
    }
    let mut sidecars = Resources::default();
    let mut sidecars_nz = Resources::default();
    let mut init_max = Resources::default();
    let mut init_max_nz = Resources::default();
    for c in &spec.init_containers {
        let r = Resources::from_list(&c.resources.requests);
        let r_nz = non_zero(&r);
        if c.restart_policy.as_deref() == Some("Always") {
            reqs.add(&r, 1);
            nz.add(&r_nz, 1);
            sidecars.add(&r, 1);
            sidecars_nz.add(&r_nz, 1);
            init_max.set_max(&sidecars);
            init_max_nz.set_max(&sidecars_nz);
        } else {
            let mut step = r;
            step.add(&sidecars, 1);
            init_max.set_max(&step);
            let mut step_nz = r_nz;
            step_nz.add(&sidecars_nz, 1);
            init_max_nz.set_max(&step_nz);
        }
    }
    reqs.set_max(&init_max);
    nz.set_max(&init_max_nz);
    let overhead = Resources::from_list(&spec.overhead);
    reqs.add(&overhead, 1);
    nz.add(&overhead, 1);
    PodRequests {
        requests: reqs,
        non_zero_cpu: nz.milli_cpu,
        non_zero_memory: nz.memory,
    }
}

/// What a node offers pods: `status.allocatable` (`capacity` when a node reports none).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allocatable {
    pub resources: Resources,
    pub pods: i64,
}

impl Allocatable {
    pub fn from_status(
        allocatable: &BTreeMap<String, Quantity>,
        capacity: &BTreeMap<String, Quantity>,
    ) -> Self {
        let list = if allocatable.is_empty() {
            capacity
        } else {
            allocatable
        };
        Self {
            resources: Resources::from_list(list),
            pods: list
                .get("pods")
                .map(|q| quantity::value(&q.0).unwrap_or(0))
                .unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::{Container, ContainerResources};

    fn container(cpu: &str, mem: &str, sidecar: bool) -> Container {
        let mut requests = BTreeMap::new();
        if !cpu.is_empty() {
            requests.insert("cpu".to_string(), Quantity(cpu.into()));
        }
        if !mem.is_empty() {
            requests.insert("memory".to_string(), Quantity(mem.into()));
        }
        Container {
            resources: ContainerResources { requests },
            ports: vec![],
            restart_policy: sidecar.then(|| "Always".to_string()),
        }
    }

    #[test]
    fn sums_containers_and_takes_the_largest_init_step() {
        let spec = PodSpec {
            containers: vec![
                container("100m", "1Gi", false),
                container("200m", "", false),
            ],
            init_containers: vec![container("500m", "100Mi", false)],
            ..Default::default()
        };
        let r = pod_requests(&spec);
        assert_eq!(r.requests.milli_cpu, 500);
        assert_eq!(r.requests.memory, 1 << 30);
        assert_eq!(r.non_zero_cpu, 500);
        assert_eq!(r.non_zero_memory, (1 << 30) + DEFAULT_MEMORY);
    }

    #[test]
    fn sidecars_add_to_the_containers_and_to_later_init_steps() {
        let spec = PodSpec {
            containers: vec![container("100m", "", false)],
            init_containers: vec![container("50m", "", true), container("300m", "", false)],
            overhead: [("cpu".to_string(), Quantity("10m".into()))].into(),
            ..Default::default()
        };
        let r = pod_requests(&spec);
        // max(100 + 50, 50 + 300) + 10
        assert_eq!(r.requests.milli_cpu, 360);
    }

    #[test]
    fn containers_without_requests_count_defaults_for_scoring() {
        let spec = PodSpec {
            containers: vec![container("", "", false)],
            ..Default::default()
        };
        let r = pod_requests(&spec);
        assert!(r.requests.is_zero());
        assert_eq!(
            (r.non_zero_cpu, r.non_zero_memory),
            (DEFAULT_MILLI_CPU, DEFAULT_MEMORY)
        );
    }

    #[test]
    fn extended_resources_add_up() {
        let mut a =
            Resources::from_list(&[("example.com/gpu".to_string(), Quantity("2".into()))].into());
        a.add(&a.clone(), 1);
        assert_eq!(a.scalar("example.com/gpu"), 4);
        assert_eq!(a.scalar("other"), 0);
    }
}
