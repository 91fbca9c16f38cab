//! Filter plugins: whether a pod may run on a node, and why not. They run in the order of
//! kube-scheduler's default profile and stop at the first rejection, as it does.

pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_unschedulable;
pub mod resources_fit;
pub mod taint_toleration;
pub mod topology_spread;

use std::borrow::Cow;

use crate::cache::{Cache, NodeData, NodeInfo};
use crate::podinfo::PodInfo;

/// The filter plugins, as bits (which plugins rejected a pod decides which events retry it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Plugin {
    NodeUnschedulable = 1,
    NodeName = 1 << 1,
    TaintToleration = 1 << 2,
    NodeAffinity = 1 << 3,
    NodePorts = 1 << 4,
    NodeResourcesFit = 1 << 5,
    PodTopologySpread = 1 << 6,
    InterPodAffinity = 1 << 7,
}

/// Why a node was rejected (a `framework.Status` that is not a success).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub plugin: Plugin,
    pub reasons: Vec<Cow<'static, str>>,
    /// `Unschedulable` (preemption might help) rather than `UnschedulableAndUnresolvable`.
    pub resolvable: bool,
}

impl Failure {
    pub fn unresolvable(plugin: Plugin, reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            plugin,
            reasons: vec![reason.into()],
            resolvable: false,
        }
    }

    pub fn resolvable(plugin: Plugin, reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            plugin,
            reasons: vec![reason.into()],
            resolvable: true,
        }
    }
}

/// What the filters compute once per pod before looking at nodes (PreFilter).
#[derive(Default)]
pub struct CycleState {
    pub spread: Option<topology_spread::FilterState>,
    pub affinity: Option<inter_pod_affinity::FilterState>,
}

impl CycleState {
    pub fn new(pod: &PodInfo, cache: &Cache) -> Self {
        Self {
            spread: topology_spread::prefilter(pod, cache),
            affinity: inter_pod_affinity::prefilter(pod, cache),
        }
    }
}

/// Runs the filters on one node (which must have its Node).
pub fn run(pod: &PodInfo, state: &CycleState, cache: &Cache, node: &NodeInfo) -> Option<Failure> {
    let data: &NodeData = node.node.as_ref()?;
    node_unschedulable::filter(pod, data)
        .or_else(|| node_name::filter(pod, node))
        .or_else(|| taint_toleration::filter(pod, data))
        .or_else(|| node_affinity::filter(pod, &node.name, data))
        .or_else(|| node_ports::filter(pod, node))
        .or_else(|| resources_fit::filter(pod, node, data))
        .or_else(|| {
            state
                .spread
                .as_ref()
                .and_then(|s| topology_spread::filter(pod, s, data))
        })
        .or_else(|| {
            state
                .affinity
                .as_ref()
                .and_then(|s| inter_pod_affinity::filter(pod, s, cache, data))
        })
}
