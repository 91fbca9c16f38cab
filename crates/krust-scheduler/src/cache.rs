//! The scheduler's cache: nodes with the pods on them and per-node aggregates (requested
//! resources, host ports, owners), built from watches. Pods the scheduler has sent for
//! binding count on their node at once ("assumed") until the watch confirms them.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Taint;

use crate::podinfo::{HostPort, LABEL_ZONE, PodInfo};
use crate::requests::{Allocatable, Resources};
use crate::selector::Labels;
use crate::view::Node;

/// What the scheduler reads from a Node object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeData {
    pub labels: Labels,
    pub taints: Vec<Taint>,
    pub allocatable: Allocatable,
    pub unschedulable: bool,
}

impl NodeData {
    pub fn new(node: &Node) -> Self {
        Self {
            labels: node.metadata.labels.clone().unwrap_or_default(),
            taints: node.spec.taints.clone(),
            allocatable: Allocatable::from_status(&node.status.allocatable, &node.status.capacity),
            unschedulable: node.spec.unschedulable,
        }
    }
}

/// A node and the pods on it (`framework.NodeInfo`).
#[derive(Clone, Debug, Default)]
pub struct NodeInfo {
    pub name: String,
    /// `None` while pods are known on a node the cache has not seen (or no longer sees).
    pub node: Option<NodeData>,
    pub pods: Vec<Arc<PodInfo>>,
    /// The sum of the pods' requests.
    pub requested: Resources,
    /// The sum of the pods' CPU and memory requests with defaults for zero requests.
    pub non_zero_cpu: i64,
    pub non_zero_memory: i64,
    pub ports: Vec<HostPort>,
    /// Pods with pod affinity or anti-affinity terms, and with required anti-affinity.
    pub with_affinity: usize,
    pub with_required_anti_affinity: usize,
    /// Pods per controlling owner uid.
    pub owners: Vec<(String, u32)>,
}

impl NodeInfo {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            ..Default::default()
        }
    }

    pub fn labels(&self) -> Option<&Labels> {
        self.node.as_ref().map(|n| &n.labels)
    }

    pub fn zone(&self) -> Option<&str> {
        self.labels()
            .and_then(|l| l.get(LABEL_ZONE))
            .map(String::as_str)
    }

    /// Pods of the controlling owner `uid` on this node.
    pub fn owner_count(&self, uid: &str) -> u32 {
        self.owners
            .iter()
            .find(|(o, _)| o == uid)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    }

    fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests.requests, 1);
        self.non_zero_cpu += pod.requests.non_zero_cpu;
        self.non_zero_memory += pod.requests.non_zero_memory;
        self.ports.extend(pod.host_ports.iter().cloned());
        if pod.has_affinity() {
            self.with_affinity += 1;
        }
        if !pod.required_anti_affinity.is_empty() {
            self.with_required_anti_affinity += 1;
        }
        if let Some(uid) = &pod.owner {
            match self.owners.iter_mut().find(|(o, _)| o == uid) {
                Some((_, n)) => *n += 1,
                None => self.owners.push((uid.clone(), 1)),
            }
        }
        self.pods.push(pod);
    }

    fn remove_pod(&mut self, key: &str) -> Option<Arc<PodInfo>> {
        let i = self.pods.iter().position(|p| p.key == key)?;
        let pod = self.pods.swap_remove(i);
        self.requested.add(&pod.requests.requests, -1);
        self.non_zero_cpu -= pod.requests.non_zero_cpu;
        self.non_zero_memory -= pod.requests.non_zero_memory;
        for port in &pod.host_ports {
            if let Some(j) = self.ports.iter().position(|p| p == port) {
                self.ports.swap_remove(j);
            }
        }
        if pod.has_affinity() {
            self.with_affinity -= 1;
        }
        if !pod.required_anti_affinity.is_empty() {
            self.with_required_anti_affinity -= 1;
        }
        if let Some(uid) = &pod.owner
            && let Some(j) = self.owners.iter().position(|(o, _)| o == uid)
        {
            self.owners[j].1 -= 1;
            if self.owners[j].1 == 0 {
                self.owners.swap_remove(j);
            }
        }
        Some(pod)
    }
}

/// How a node event changed the cache (to decide which waiting pods to retry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeChange {
    Added,
    /// Labels, taints, allocatable or `unschedulable` changed.
    Updated,
    Unchanged,
}

struct PodState {
    info: Arc<PodInfo>,
    node: String,
    assumed: bool,
}

#[derive(Default)]
pub struct Cache {
    nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    pods: HashMap<String, PodState>,
    /// Namespace labels, for `namespaceSelector`s.
    pub namespaces: HashMap<String, Labels>,
    real_nodes: usize,
    pods_with_affinity: usize,
    pods_with_required_anti_affinity: usize,
    /// Pods per owner per zone (`topology.kubernetes.io/zone`), for default spreading.
    zone_owners: HashMap<String, HashMap<String, u32>>,
    zoned_nodes: usize,
}

impl Cache {
    /// All node entries, including placeholders without a Node (skip those).
    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    /// The number of Nodes (placeholders excluded).
    pub fn node_count(&self) -> usize {
        self.real_nodes
    }

    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Whether any pod in the cluster has pod affinity or anti-affinity terms.
    pub fn any_pod_with_affinity(&self) -> bool {
        self.pods_with_affinity > 0
    }

    /// Whether any pod in the cluster has required pod anti-affinity terms.
    pub fn any_pod_with_required_anti_affinity(&self) -> bool {
        self.pods_with_required_anti_affinity > 0
    }

    /// Whether any node has a zone label.
    pub fn has_zones(&self) -> bool {
        self.zoned_nodes > 0
    }

    /// Pods of the controlling owner `uid` per zone.
    pub fn owner_zones(&self, uid: &str) -> Option<&HashMap<String, u32>> {
        self.zone_owners.get(uid)
    }

    fn entry(&mut self, name: &str) -> usize {
        if let Some(i) = self.index.get(name) {
            return *i;
        }
        self.nodes.push(NodeInfo::new(name));
        self.index.insert(name.to_string(), self.nodes.len() - 1);
        self.nodes.len() - 1
    }

    /// Drops an entry with neither Node nor pods.
    fn prune(&mut self, i: usize) {
        if self.nodes[i].node.is_some() || !self.nodes[i].pods.is_empty() {
            return;
        }
        let removed = self.nodes.swap_remove(i);
        self.index.remove(&removed.name);
        if i < self.nodes.len() {
            self.index.insert(self.nodes[i].name.clone(), i);
        }
    }

    /// Adds the node's owner counts to (`sign` 1) or removes them from (-1) its zone.
    fn zone_adjust(&mut self, i: usize, sign: i64) {
        let node = &self.nodes[i];
        let Some(zone) = node.zone() else { return };
        if sign > 0 {
            self.zoned_nodes += 1;
        } else {
            self.zoned_nodes -= 1;
        }
        for (uid, n) in &node.owners {
            let zones = self.zone_owners.entry(uid.clone()).or_default();
            let c = zones.entry(zone.to_string()).or_default();
            *c = (i64::from(*c) + sign * i64::from(*n)).max(0) as u32;
            if *c == 0 {
                zones.remove(zone);
                if zones.is_empty() {
                    self.zone_owners.remove(uid);
                }
            }
        }
    }

    pub fn set_node(&mut self, name: &str, data: NodeData) -> NodeChange {
        let i = self.entry(name);
        let change = match &self.nodes[i].node {
            None => NodeChange::Added,
            Some(old) if *old == data => return NodeChange::Unchanged,
            Some(_) => NodeChange::Updated,
        };
        if change == NodeChange::Added {
            self.real_nodes += 1;
        }
        self.zone_adjust(i, -1);
        self.nodes[i].node = Some(data);
        self.zone_adjust(i, 1);
        change
    }

    pub fn remove_node(&mut self, name: &str) {
        let Some(i) = self.node_index(name) else {
            return;
        };
        if self.nodes[i].node.is_some() {
            self.zone_adjust(i, -1);
            self.nodes[i].node = None;
            self.real_nodes -= 1;
        }
        self.prune(i);
    }

    /// Adds or updates an assigned pod; confirms it if it was assumed.
    pub fn add_pod(&mut self, info: Arc<PodInfo>) {
        let node = info.node_name.clone();
        self.remove_pod(&info.key);
        self.place(info, &node, false);
    }

    /// Counts a pod on `node` before its binding is confirmed.
    pub fn assume(&mut self, info: Arc<PodInfo>, node: &str) {
        self.remove_pod(&info.key);
        self.place(info, node, true);
    }

    /// Drops an assumed pod (its binding failed); a confirmed pod, or another pod of the
    /// same name, stays.
    pub fn forget(&mut self, key: &str, uid: &str) -> Option<Arc<PodInfo>> {
        if self
            .pods
            .get(key)
            .is_some_and(|p| p.assumed && p.info.uid == uid)
        {
            self.remove_pod(key)
        } else {
            None
        }
    }

    pub fn is_assumed(&self, key: &str) -> bool {
        self.pods.get(key).is_some_and(|p| p.assumed)
    }

    pub fn contains_pod(&self, key: &str) -> bool {
        self.pods.contains_key(key)
    }

    /// Keys of the pods known to the cache (assumed or not).
    pub fn pod_keys(&self, assumed: bool) -> Vec<String> {
        self.pods
            .iter()
            .filter(|(_, p)| p.assumed == assumed)
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn place(&mut self, info: Arc<PodInfo>, node: &str, assumed: bool) {
        let i = self.entry(node);
        if info.has_affinity() {
            self.pods_with_affinity += 1;
        }
        if !info.required_anti_affinity.is_empty() {
            self.pods_with_required_anti_affinity += 1;
        }
        if let (Some(zone), Some(uid)) = (self.nodes[i].zone(), &info.owner) {
            *self
                .zone_owners
                .entry(uid.clone())
                .or_default()
                .entry(zone.to_string())
                .or_default() += 1;
        }
        self.nodes[i].add_pod(info.clone());
        let key = info.key.clone();
        self.pods.insert(
            key,
            PodState {
                info,
                node: node.to_string(),
                assumed,
            },
        );
    }

    pub fn remove_pod(&mut self, key: &str) -> Option<Arc<PodInfo>> {
        let state = self.pods.remove(key)?;
        let i = self.node_index(&state.node)?;
        let pod = self.nodes[i].remove_pod(key)?;
        if pod.has_affinity() {
            self.pods_with_affinity -= 1;
        }
        if !pod.required_anti_affinity.is_empty() {
            self.pods_with_required_anti_affinity -= 1;
        }
        if let (Some(zone), Some(uid)) = (self.nodes[i].zone(), &pod.owner)
            && let Some(zones) = self.zone_owners.get_mut(uid)
        {
            if let Some(c) = zones.get_mut(zone) {
                *c = c.saturating_sub(1);
                if *c == 0 {
                    zones.remove(zone);
                }
            }
            if zones.is_empty() {
                self.zone_owners.remove(uid);
            }
        }
        self.prune(i);
        debug_assert!(Arc::ptr_eq(&pod, &state.info));
        Some(pod)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{info, node, pod};
    use crate::view::from_typed;

    fn owned(name: &str, owner: &str) -> Arc<PodInfo> {
        let mut p = info(&pod(name, "100m", "1Gi"));
        p.owner = Some(owner.into());
        p.node_name = "n1".into();
        Arc::new(p)
    }

    #[test]
    fn aggregates_follow_pods() {
        let mut cache = Cache::default();
        let mut n = node("n1", "2", "4Gi");
        n.metadata
            .labels
            .as_mut()
            .unwrap()
            .insert(LABEL_ZONE.into(), "z1".into());
        assert_eq!(
            cache.set_node("n1", NodeData::new(&from_typed(&n))),
            NodeChange::Added
        );
        assert_eq!(
            cache.set_node("n1", NodeData::new(&from_typed(&n))),
            NodeChange::Unchanged
        );
        cache.add_pod(owned("a", "rs1"));
        cache.assume(owned("b", "rs1"), "n1");
        let ni = &cache.nodes()[0];
        assert_eq!(ni.requested.milli_cpu, 200);
        assert_eq!(ni.owner_count("rs1"), 2);
        assert_eq!(cache.owner_zones("rs1").unwrap()["z1"], 2);
        assert!(cache.is_assumed("default/b"));
        // The watch confirms the assumed pod: it counts once.
        cache.add_pod(owned("b", "rs1"));
        assert!(!cache.is_assumed("default/b"));
        assert_eq!(cache.nodes()[0].requested.milli_cpu, 200);
        assert!(cache.forget("default/b", "uid-b").is_none());
        cache.remove_pod("default/a");
        assert_eq!(cache.nodes()[0].requested.milli_cpu, 100);
        assert_eq!(cache.owner_zones("rs1").unwrap()["z1"], 1);
    }

    #[test]
    fn pods_on_unknown_nodes_wait_in_placeholders() {
        let mut cache = Cache::default();
        cache.add_pod(owned("a", "rs1"));
        assert_eq!(cache.node_count(), 0);
        assert!(cache.nodes()[0].node.is_none());
        cache.set_node("n1", NodeData::new(&from_typed(&node("n1", "1", "1Gi"))));
        assert_eq!(cache.node_count(), 1);
        assert_eq!(cache.nodes()[0].pods.len(), 1);
        cache.remove_node("n1");
        assert_eq!(cache.nodes().len(), 1);
        cache.remove_pod("default/a");
        assert!(cache.nodes().is_empty());
    }
}
