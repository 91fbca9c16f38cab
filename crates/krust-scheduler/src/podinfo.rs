//! `PodInfo`: a pod with everything the plugins need computed once (requests, ports,
//! compiled selectors and affinity terms), shared by the queue and the cache.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{PodAffinityTerm, Toleration};

use crate::requests::{PodRequests, pod_requests};
use crate::selector::{Labels, NodeSelectorC, NodeTerm, Selector};
use crate::view::Pod;

/// The scheduler's name; pods with this `spec.schedulerName` (or none) are ours.
pub const SCHEDULER_NAME: &str = "default-scheduler";
/// `kubernetes.io/hostname`.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
/// `topology.kubernetes.io/zone`.
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";

/// A host port a pod binds (`hostIP` `0.0.0.0` when unset, protocol `TCP` when unset).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    pub ip: String,
    pub protocol: String,
    pub port: i32,
}

impl HostPort {
    /// `HostPortInfo.CheckConflict`: `0.0.0.0` conflicts with every address.
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == "0.0.0.0" || other.ip == "0.0.0.0")
    }
}

/// A processed `PodAffinityTerm`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AffinityTerm {
    pub namespaces: Vec<String>,
    pub namespace_selector: Selector,
    pub selector: Selector,
    pub topology_key: String,
}

impl AffinityTerm {
    fn compile(owner: &Pod, term: &PodAffinityTerm) -> Result<Self, String> {
        let labels = owner.metadata.labels.as_ref();
        let mut selector = Selector::compile(term.label_selector.as_ref())?;
        if term.label_selector.is_some() {
            for key in term.match_label_keys.iter().flatten() {
                if let Some(v) = labels.and_then(|l| l.get(key)) {
                    selector.require(key, v);
                }
            }
            for key in term.mismatch_label_keys.iter().flatten() {
                if let Some(v) = labels.and_then(|l| l.get(key)) {
                    selector.forbid(key, v);
                }
            }
        }
        let namespace_selector = Selector::compile(term.namespace_selector.as_ref())?;
        let mut namespaces = term.namespaces.clone().unwrap_or_default();
        if namespaces.is_empty() && term.namespace_selector.is_none() {
            namespaces.push(owner.metadata.namespace.clone().unwrap_or_default());
        }
        Ok(Self {
            namespaces,
            namespace_selector,
            selector,
            topology_key: term.topology_key.clone(),
        })
    }

    /// Whether `pod` is selected by this term (`AffinityTerm.Matches`).
    pub fn matches(&self, pod: &PodInfo, namespaces: &HashMap<String, Labels>) -> bool {
        let in_namespace = self.namespaces.contains(&pod.namespace)
            || (!self.namespace_selector.is_nothing()
                && (self.namespace_selector.is_everything()
                    || namespaces
                        .get(&pod.namespace)
                        .is_some_and(|l| self.namespace_selector.matches(l))));
        in_namespace && self.selector.matches(&pod.labels)
    }
}

/// A processed `TopologySpreadConstraint`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpreadConstraint {
    pub max_skew: i32,
    pub topology_key: String,
    /// `whenUnsatisfiable: DoNotSchedule` (a filter) rather than `ScheduleAnyway` (a score).
    pub hard: bool,
    pub selector: Selector,
    pub min_domains: i32,
    /// `nodeAffinityPolicy: Honor` (the default).
    pub honor_affinity: bool,
    /// `nodeTaintsPolicy: Honor` (the default is Ignore).
    pub honor_taints: bool,
}

/// A pod as the plugins see it.
#[derive(Clone, Debug, Default)]
pub struct PodInfo {
    /// `namespace/name`.
    pub key: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub resource_version: String,
    pub labels: Labels,
    pub node_name: String,
    pub scheduler_name: String,
    /// Phase Succeeded or Failed: it holds no resources.
    pub terminal: bool,
    /// Has a deletion timestamp.
    pub terminating: bool,
    pub priority: i32,
    pub preemption_never: bool,
    /// Has scheduling gates: not to be scheduled yet.
    pub gated: bool,
    pub requests: PodRequests,
    pub host_ports: Vec<HostPort>,
    pub node_selector: Labels,
    pub required_node_affinity: Option<NodeSelectorC>,
    pub preferred_node_affinity: Vec<(i32, NodeTerm)>,
    pub tolerations: Vec<Toleration>,
    pub required_affinity: Vec<AffinityTerm>,
    pub required_anti_affinity: Vec<AffinityTerm>,
    pub preferred_affinity: Vec<(i32, AffinityTerm)>,
    pub preferred_anti_affinity: Vec<(i32, AffinityTerm)>,
    /// An affinity term that does not compile: the pod cannot be scheduled.
    pub affinity_error: Option<String>,
    pub spread: Vec<SpreadConstraint>,
    /// The uid of the controlling owner (ReplicaSet, StatefulSet, …), for default spreading.
    pub owner: Option<String>,
    /// The current `PodScheduled` condition (status, reason, message).
    pub scheduled_condition: Option<(String, String, String)>,
}

impl PodInfo {
    pub fn new(pod: &Pod) -> Self {
        let meta = &pod.metadata;
        let spec = &pod.spec;
        let namespace = meta.namespace.clone().unwrap_or_default();
        let name = meta.name.clone().unwrap_or_default();
        let mut info = PodInfo {
            key: format!("{namespace}/{name}"),
            namespace,
            name,
            uid: meta.uid.clone().unwrap_or_default(),
            resource_version: meta.resource_version.clone().unwrap_or_default(),
            labels: meta.labels.clone().unwrap_or_default(),
            node_name: spec.node_name.clone(),
            scheduler_name: spec.scheduler_name.clone(),
            terminal: matches!(pod.status.phase.as_str(), "Succeeded" | "Failed"),
            terminating: meta.deletion_timestamp.is_some(),
            priority: spec.priority.unwrap_or(0),
            preemption_never: spec.preemption_policy.as_deref() == Some("Never"),
            gated: !spec.scheduling_gates.is_empty(),
            requests: pod_requests(spec),
            node_selector: spec.node_selector.clone(),
            tolerations: spec.tolerations.clone(),
            owner: meta
                .owner_references
                .iter()
                .flatten()
                .find(|o| o.controller == Some(true))
                .map(|o| o.uid.clone()),
            scheduled_condition: pod
                .status
                .conditions
                .iter()
                .find(|c| c.type_ == "PodScheduled")
                .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone())),
            ..Default::default()
        };
        let sidecars = spec
            .init_containers
            .iter()
            .filter(|c| c.restart_policy.as_deref() == Some("Always"));
        for port in spec
            .containers
            .iter()
            .chain(sidecars)
            .flat_map(|c| &c.ports)
        {
            if let Some(p) = port.host_port.filter(|p| *p > 0) {
                info.host_ports.push(HostPort {
                    ip: non_empty(&port.host_ip, "0.0.0.0"),
                    protocol: non_empty(&port.protocol, "TCP"),
                    port: p,
                });
            }
        }
        if let Err(e) = info.compile_affinity(pod) {
            info.affinity_error = Some(e);
        }
        info.compile_spread(pod);
        info
    }

    fn compile_affinity(&mut self, pod: &Pod) -> Result<(), String> {
        let Some(affinity) = &pod.spec.affinity else {
            return Ok(());
        };
        if let Some(na) = &affinity.node_affinity {
            self.required_node_affinity = na
                .required_during_scheduling_ignored_during_execution
                .as_ref()
                .map(NodeSelectorC::compile);
            for t in na
                .preferred_during_scheduling_ignored_during_execution
                .iter()
                .flatten()
            {
                self.preferred_node_affinity
                    .push((t.weight, NodeTerm::compile(&t.preference)));
            }
        }
        if let Some(pa) = &affinity.pod_affinity {
            for t in pa
                .required_during_scheduling_ignored_during_execution
                .iter()
                .flatten()
            {
                self.required_affinity.push(AffinityTerm::compile(pod, t)?);
            }
            for t in pa
                .preferred_during_scheduling_ignored_during_execution
                .iter()
                .flatten()
            {
                let term = AffinityTerm::compile(pod, &t.pod_affinity_term)?;
                self.preferred_affinity.push((t.weight, term));
            }
        }
        if let Some(pa) = &affinity.pod_anti_affinity {
            for t in pa
                .required_during_scheduling_ignored_during_execution
                .iter()
                .flatten()
            {
                self.required_anti_affinity
                    .push(AffinityTerm::compile(pod, t)?);
            }
            for t in pa
                .preferred_during_scheduling_ignored_during_execution
                .iter()
                .flatten()
            {
                let term = AffinityTerm::compile(pod, &t.pod_affinity_term)?;
                self.preferred_anti_affinity.push((t.weight, term));
            }
        }
        Ok(())
    }

    fn compile_spread(&mut self, pod: &Pod) {
        for c in &pod.spec.topology_spread_constraints {
            // An invalid selector selects nothing (the API server validates them).
            let mut selector = Selector::compile(c.label_selector.as_ref())
                .unwrap_or_else(|_| Selector::nothing());
            for key in c.match_label_keys.iter().flatten() {
                if let Some(v) = self.labels.get(key) {
                    selector.require(key, v);
                }
            }
            self.spread.push(SpreadConstraint {
                max_skew: c.max_skew.max(1),
                topology_key: c.topology_key.clone(),
                hard: c.when_unsatisfiable == "DoNotSchedule",
                selector,
                min_domains: c.min_domains.unwrap_or(1).max(1),
                honor_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
                honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
            });
        }
    }

    /// Whether the pod has pod affinity or anti-affinity terms (it may attract or repel others).
    pub fn has_affinity(&self) -> bool {
        !self.required_affinity.is_empty()
            || !self.required_anti_affinity.is_empty()
            || !self.preferred_affinity.is_empty()
            || !self.preferred_anti_affinity.is_empty()
    }

    /// Whether this scheduler is responsible for the pod while it is unassigned.
    pub fn is_ours(&self) -> bool {
        self.scheduler_name.is_empty() || self.scheduler_name == SCHEDULER_NAME
    }

    /// Whether an update may change the pod's scheduling result (its own status writes do not).
    pub fn scheduling_changed(&self, newer: &PodInfo) -> bool {
        self.labels != newer.labels
            || self.requests != newer.requests
            || self.tolerations != newer.tolerations
            || self.node_selector != newer.node_selector
            || self.required_node_affinity != newer.required_node_affinity
            || self.required_affinity != newer.required_affinity
            || self.required_anti_affinity != newer.required_anti_affinity
            || self.spread != newer.spread
            || self.gated != newer.gated
            || self.priority != newer.priority
            || self.host_ports != newer.host_ports
    }
}

fn non_empty(s: &str, default: &str) -> String {
    if s.is_empty() { default } else { s }.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use k8s_openapi::api::core::v1 as api;

    #[test]
    fn host_ports_default_address_and_protocol() {
        let mut p = pod("p", "", "");
        p.spec.as_mut().unwrap().containers[0].ports = Some(vec![api::ContainerPort {
            container_port: 80,
            host_port: Some(8080),
            ..Default::default()
        }]);
        let i = info(&p);
        assert_eq!(
            i.host_ports,
            vec![HostPort {
                ip: "0.0.0.0".into(),
                protocol: "TCP".into(),
                port: 8080
            }]
        );
        let other = HostPort {
            ip: "10.0.0.1".into(),
            protocol: "TCP".into(),
            port: 8080,
        };
        assert!(i.host_ports[0].conflicts(&other));
        assert!(!other.conflicts(&HostPort {
            ip: "10.0.0.2".into(),
            ..other.clone()
        }));
    }

    #[test]
    fn affinity_terms_default_to_the_pods_namespace() {
        let mut p = pod("p", "", "");
        p.spec.as_mut().unwrap().affinity = Some(api::Affinity {
            pod_anti_affinity: Some(api::PodAntiAffinity {
                required_during_scheduling_ignored_during_execution: Some(vec![
                    api::PodAffinityTerm {
                        label_selector: Some(Default::default()),
                        topology_key: LABEL_HOSTNAME.into(),
                        ..Default::default()
                    },
                ]),
                ..Default::default()
            }),
            ..Default::default()
        });
        let i = info(&p);
        let term = &i.required_anti_affinity[0];
        assert_eq!(term.namespaces, vec!["default".to_string()]);
        let mut other = info(&pod("q", "", ""));
        assert!(term.matches(&other, &HashMap::new()));
        other.namespace = "kube-system".into();
        assert!(!term.matches(&other, &HashMap::new()));
    }
}
