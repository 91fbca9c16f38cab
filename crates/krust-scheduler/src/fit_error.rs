//! The message of a pod that fits no node, worded as kube-scheduler words it
//! (`framework.FitError.Error()` with DefaultPreemption's PostFilter message):
//!
//! `0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No
//! preemption victims found for incoming pod..` (the doubled dot is Kubernetes').
//!
//! krust does not preempt. The preemption part reports what DefaultPreemption's dry run
//! would say for nodes where removing lower-priority pods cannot help; for a node where it
//! could, it repeats the node's filter reasons.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::cache::Cache;
use crate::filters::Failure;
use crate::filters::resources_fit::insufficient;
use crate::podinfo::PodInfo;
use crate::requests::Resources;

pub const NO_NODES: &str = "no nodes available to schedule pods";
const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
const NOT_ELIGIBLE: &str = "not eligible due to preemptionPolicy=Never.";

/// Why no node fits: the rejection of each node that was tried.
#[derive(Default)]
pub struct Diagnosis {
    pub num_nodes: usize,
    /// (index of the node in the cache, why it was rejected).
    pub failures: Vec<(usize, Failure)>,
    /// A reason for the whole pod, before any node was looked at (PreFilter).
    pub pre_filter: Option<String>,
}

impl Diagnosis {
    /// The plugins that rejected the pod, as bits.
    pub fn plugins(&self) -> u32 {
        self.failures
            .iter()
            .fold(0, |acc, (_, f)| acc | f.plugin as u32)
    }
}

/// `sortReasonsHistogram`: "N reason" strings, sorted as strings (as Go sorts them).
fn histogram<'a>(reasons: impl Iterator<Item = &'a str>) -> String {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for r in reasons {
        *counts.entry(r).or_default() += 1;
    }
    let mut parts: Vec<String> = counts.iter().map(|(r, n)| format!("{n} {r}")).collect();
    parts.sort();
    parts.join(", ")
}

/// `FitError.Error()`.
fn fit_error(
    num_nodes: usize,
    pre_filter: Option<&str>,
    reasons: &str,
    post: Option<&str>,
) -> String {
    let mut msg = format!("0/{num_nodes} nodes are available:");
    if let Some(p) = pre_filter {
        msg.push_str(&format!(" {p}."));
    }
    if !reasons.is_empty() {
        msg.push_str(&format!(" {reasons}."));
    }
    if let Some(p) = post {
        msg.push_str(&format!(" {p}."));
    }
    msg
}

/// What the preemption dry run says about one rejected node.
fn preemption_reasons<'a>(
    pod: &PodInfo,
    cache: &Cache,
    node: usize,
    f: &'a Failure,
) -> Vec<Cow<'a, str>> {
    if !f.resolvable {
        return vec![Cow::Borrowed(NOT_HELPFUL)];
    }
    let Some(info) = cache.nodes().get(node) else {
        return vec![Cow::Borrowed(NOT_HELPFUL)];
    };
    let lower: Vec<_> = info
        .pods
        .iter()
        .filter(|p| p.priority < pod.priority)
        .collect();
    if lower.is_empty() {
        return vec![Cow::Borrowed(NO_VICTIMS)];
    }
    if let Some(data) = &info.node {
        let mut requested = info.requested.clone();
        let mut freed = Resources::default();
        for p in &lower {
            freed.add(&p.requests.requests, 1);
        }
        requested.add(&freed, -1);
        let left = insufficient(
            &pod.requests.requests,
            &requested,
            info.pods.len() - lower.len(),
            &data.allocatable,
        );
        if !left.is_empty() {
            return left;
        }
    }
    f.reasons
        .iter()
        .map(|r| Cow::Borrowed(r.as_ref()))
        .collect()
}

/// The `FailedScheduling` message.
pub fn message(pod: &PodInfo, cache: &Cache, d: &Diagnosis) -> String {
    if d.num_nodes == 0 {
        return NO_NODES.to_string();
    }
    let reasons = histogram(
        d.failures
            .iter()
            .flat_map(|(_, f)| f.reasons.iter().map(|r| r.as_ref())),
    );
    let post = if pod.preemption_never {
        format!("preemption: {NOT_ELIGIBLE}")
    } else if d.pre_filter.is_some() {
        let all = histogram(std::iter::repeat_n(NOT_HELPFUL, d.num_nodes));
        format!("preemption: {}", fit_error(d.num_nodes, None, &all, None))
    } else {
        let per_node: Vec<Vec<Cow<'_, str>>> = d
            .failures
            .iter()
            .map(|(i, f)| preemption_reasons(pod, cache, *i, f))
            .collect();
        let all = histogram(per_node.iter().flatten().map(|r| r.as_ref()));
        format!("preemption: {}", fit_error(d.num_nodes, None, &all, None))
    };
    fit_error(d.num_nodes, d.pre_filter.as_deref(), &reasons, Some(&post))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::NodeData;
    use crate::filters::Plugin;
    use crate::testing::{info, node, pod};
    use crate::view::from_typed;
    use std::sync::Arc;

    fn cache(n: usize) -> Cache {
        let mut c = Cache::default();
        for i in 0..n {
            let name = format!("n{i}");
            c.set_node(&name, NodeData::new(&from_typed(&node(&name, "1", "1Gi"))));
        }
        c
    }

    fn cpu(i: usize) -> (usize, Failure) {
        (
            i,
            Failure::resolvable(Plugin::NodeResourcesFit, "Insufficient cpu"),
        )
    }

    #[test]
    fn insufficient_cpu_everywhere() {
        let c = cache(3);
        let d = Diagnosis {
            num_nodes: 3,
            failures: (0..3).map(cpu).collect(),
            pre_filter: None,
        };
        assert_eq!(
            message(&info(&pod("p", "8", "")), &c, &d),
            "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: \
             3 No preemption victims found for incoming pod.."
        );
    }

    #[test]
    fn mixed_reasons_sort_as_strings() {
        let c = cache(12);
        let mut failures: Vec<_> = (0..10)
            .map(|i| {
                (
                    i,
                    Failure::unresolvable(
                        Plugin::NodeAffinity,
                        "node(s) didn't match Pod's node affinity/selector",
                    ),
                )
            })
            .collect();
        failures.push((
            10,
            Failure::unresolvable(
                Plugin::TaintToleration,
                "node(s) had untolerated taint {a: b}",
            ),
        ));
        failures.push(cpu(11));
        let d = Diagnosis {
            num_nodes: 12,
            failures,
            pre_filter: None,
        };
        assert_eq!(
            message(&info(&pod("p", "8", "")), &c, &d),
            "0/12 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {a: b}, \
             10 node(s) didn't match Pod's node affinity/selector. preemption: 0/12 nodes are \
             available: 1 No preemption victims found for incoming pod, 11 Preemption is not \
             helpful for scheduling.."
        );
    }

    #[test]
    fn lower_priority_pods_that_free_too_little() {
        let mut c = cache(1);
        let mut low = info(&pod("low", "500m", ""));
        low.node_name = "n0".into();
        low.priority = -1;
        c.add_pod(Arc::new(low));
        let d = Diagnosis {
            num_nodes: 1,
            failures: vec![cpu(0)],
            pre_filter: None,
        };
        let msg = message(&info(&pod("p", "2", "")), &c, &d);
        assert!(
            msg.ends_with("preemption: 0/1 nodes are available: 1 Insufficient cpu.."),
            "{msg}"
        );
    }

    #[test]
    fn never_preempting_pods_and_empty_clusters() {
        let c = cache(1);
        let mut p = info(&pod("p", "8", ""));
        p.preemption_never = true;
        let d = Diagnosis {
            num_nodes: 1,
            failures: vec![cpu(0)],
            pre_filter: None,
        };
        assert_eq!(
            message(&p, &c, &d),
            "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.."
        );
        assert_eq!(message(&p, &c, &Diagnosis::default()), NO_NODES);
    }
}
