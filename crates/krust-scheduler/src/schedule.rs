//! One scheduling decision (`schedulePod`): filter nodes until enough fit (a sample of a
//! large cluster, starting where the previous pod stopped), score the feasible ones, pick the
//! best (ties at random).

use crate::cache::Cache;
use crate::filters::{self, CycleState, node_affinity};
use crate::fit_error::{self, Diagnosis};
use crate::podinfo::PodInfo;
use crate::scores;

/// `minFeasibleNodesToFind`.
const MIN_FEASIBLE_NODES: usize = 100;
/// `minFeasibleNodesPercentageToFind`.
const MIN_FEASIBLE_PERCENTAGE: usize = 5;

/// `numFeasibleNodesToFind` with the adaptive `percentageOfNodesToScore`:
/// 50% − nodes/125, at least 5%, at least 100 nodes.
pub fn nodes_to_find(all: usize) -> usize {
    if all < MIN_FEASIBLE_NODES {
        return all;
    }
    let percentage = 50usize
        .saturating_sub(all / 125)
        .max(MIN_FEASIBLE_PERCENTAGE);
    (all * percentage / 100).max(MIN_FEASIBLE_NODES)
}

pub enum Decision {
    /// Bind to the node at this index of the cache.
    Bind(usize),
    /// No node fits: the message and the plugins that rejected the pod (bits).
    Unschedulable { message: String, plugins: u32 },
}

/// The scheduling algorithm's state between pods: where to start the next node sample, a
/// random source for ties, and reused buffers.
pub struct Algorithm {
    next_start: usize,
    rng: u64,
    feasible: Vec<usize>,
    totals: Vec<i64>,
    buf: Vec<i64>,
}

impl Default for Algorithm {
    fn default() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        Self::with_seed(seed)
    }
}

impl Algorithm {
    pub fn with_seed(seed: u64) -> Self {
        Self {
            next_start: 0,
            rng: seed | 1,
            feasible: Vec::new(),
            totals: Vec::new(),
            buf: Vec::new(),
        }
    }

    fn random(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn schedule(&mut self, pod: &PodInfo, cache: &Cache) -> Decision {
        let num_nodes = cache.node_count();
        let mut diagnosis = Diagnosis {
            num_nodes,
            ..Default::default()
        };
        if num_nodes == 0 {
            return Decision::Unschedulable {
                message: fit_error::NO_NODES.to_string(),
                plugins: u32::MAX,
            };
        }
        if let Some(e) = &pod.affinity_error {
            diagnosis.pre_filter = Some(e.clone());
            return Decision::Unschedulable {
                message: fit_error::message(pod, cache, &diagnosis),
                plugins: filters::Plugin::InterPodAffinity as u32,
            };
        }
        let state = CycleState::new(pod, cache);
        self.feasible.clear();
        if let Some(names) = node_affinity::named_nodes(pod) {
            // Only the named nodes can fit (DaemonSet pods): try those first.
            for name in names {
                if let Some(i) = cache.node_index(name)
                    && cache.nodes()[i].node.is_some()
                    && filters::run(pod, &state, cache, &cache.nodes()[i]).is_none()
                    && !self.feasible.contains(&i)
                {
                    self.feasible.push(i);
                }
            }
        } else {
            self.find_feasible(pod, &state, cache, nodes_to_find(num_nodes), None);
        }
        if self.feasible.is_empty() {
            // Every node is looked at, to say why each one does not fit.
            self.find_feasible(pod, &state, cache, usize::MAX, Some(&mut diagnosis));
            return Decision::Unschedulable {
                message: fit_error::message(pod, cache, &diagnosis),
                plugins: diagnosis.plugins(),
            };
        }
        if self.feasible.len() == 1 {
            return Decision::Bind(self.feasible[0]);
        }
        scores::score(pod, cache, &self.feasible, &mut self.totals, &mut self.buf);
        Decision::Bind(self.select())
    }

    /// Filters nodes from `next_start` on until `want` fit or every node was tried.
    fn find_feasible(
        &mut self,
        pod: &PodInfo,
        state: &CycleState,
        cache: &Cache,
        want: usize,
        mut diagnosis: Option<&mut Diagnosis>,
    ) {
        let nodes = cache.nodes();
        let len = nodes.len();
        if len == 0 {
            return;
        }
        let start = self.next_start % len;
        let mut processed = 0;
        for k in 0..len {
            let i = (start + k) % len;
            processed = k + 1;
            if nodes[i].node.is_none() {
                continue;
            }
            match filters::run(pod, state, cache, &nodes[i]) {
                None => {
                    self.feasible.push(i);
                    if self.feasible.len() >= want {
                        break;
                    }
                }
                Some(f) => {
                    if let Some(d) = diagnosis.as_deref_mut() {
                        d.failures.push((i, f));
                    }
                }
            }
        }
        self.next_start = (start + processed) % len;
    }

    /// The index of the best-scored feasible node; ties broken uniformly at random.
    fn select(&mut self) -> usize {
        let mut best = 0;
        let mut best_score = i64::MIN;
        let mut ties = 0u64;
        for j in 0..self.totals.len() {
            let s = self.totals[j];
            if s > best_score {
                best = j;
                best_score = s;
                ties = 1;
            } else if s == best_score {
                ties += 1;
                if self.random().is_multiple_of(ties) {
                    best = j;
                }
            }
        }
        self.feasible[best]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::NodeData;
    use crate::testing::{info, labels, node, pod};
    use crate::view::from_typed;
    use std::collections::HashMap;
    use std::sync::Arc;

    fn cluster(n: usize, cpu: &str) -> Cache {
        let mut cache = Cache::default();
        for i in 0..n {
            let name = format!("n{i}");
            cache.set_node(&name, NodeData::new(&from_typed(&node(&name, cpu, "8Gi"))));
        }
        cache
    }

    fn bind(algo: &mut Algorithm, cache: &mut Cache, p: PodInfo) -> String {
        match algo.schedule(&p, cache) {
            Decision::Bind(i) => {
                let name = cache.nodes()[i].name.clone();
                cache.assume(Arc::new(p), &name);
                name
            }
            Decision::Unschedulable { message, .. } => panic!("{message}"),
        }
    }

    #[test]
    fn sample_sizes() {
        assert_eq!(nodes_to_find(50), 50);
        assert_eq!(nodes_to_find(200), 100);
        assert_eq!(nodes_to_find(1000), 420);
        assert_eq!(nodes_to_find(5000), 500);
        assert_eq!(nodes_to_find(100_000), 5000);
    }

    #[test]
    fn back_to_back_pods_do_not_overcommit() {
        let mut cache = cluster(3, "1");
        let mut algo = Algorithm::with_seed(7);
        let mut per_node: HashMap<String, usize> = HashMap::new();
        for i in 0..6 {
            let n = bind(
                &mut algo,
                &mut cache,
                info(&pod(&format!("p{i}"), "500m", "")),
            );
            *per_node.entry(n).or_default() += 1;
        }
        assert!(per_node.values().all(|n| *n == 2), "{per_node:?}");
        match algo.schedule(&info(&pod("p6", "500m", "")), &cache) {
            Decision::Unschedulable { message, plugins } => {
                assert!(message.starts_with("0/3 nodes are available: 3 Insufficient cpu."));
                assert_eq!(plugins, filters::Plugin::NodeResourcesFit as u32);
            }
            Decision::Bind(_) => panic!("overcommitted"),
        }
    }

    #[test]
    fn replicas_spread_over_nodes() {
        let mut cache = cluster(3, "4");
        let mut algo = Algorithm::with_seed(1);
        let mut per_node: HashMap<String, usize> = HashMap::new();
        for i in 0..5 {
            let mut p = info(&pod(&format!("web-{i}"), "", ""));
            p.owner = Some("rs".into());
            p.labels = labels(&[("app", "web")]);
            *per_node.entry(bind(&mut algo, &mut cache, p)).or_default() += 1;
        }
        let mut counts: Vec<usize> = per_node.values().copied().collect();
        counts.sort();
        assert_eq!(counts, [1, 2, 2]);
    }

    #[test]
    fn large_clusters_are_sampled_round_robin() {
        let mut cache = cluster(1000, "4");
        let mut algo = Algorithm::with_seed(3);
        bind(&mut algo, &mut cache, info(&pod("a", "", "")));
        assert_eq!(algo.next_start, 420);
        bind(&mut algo, &mut cache, info(&pod("b", "", "")));
        assert_eq!(algo.next_start, 840);
    }

    #[test]
    fn no_nodes() {
        let cache = Cache::default();
        match Algorithm::default().schedule(&info(&pod("p", "", "")), &cache) {
            Decision::Unschedulable { message, .. } => assert_eq!(message, fit_error::NO_NODES),
            Decision::Bind(_) => panic!(),
        }
    }
}
