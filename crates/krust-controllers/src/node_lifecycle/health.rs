//! Node health: the conditions a silent kubelet's node gets, and the taints a node's
//! conditions call for.

use k8s_openapi::api::core::v1::{Node, NodeCondition, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
pub const MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
pub const DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
pub const PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
pub const NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";

pub const NO_EXECUTE: &str = "NoExecute";
pub const NO_SCHEDULE: &str = "NoSchedule";

/// The conditions set to Unknown when the kubelet goes silent.
const WATCHED: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// The taint keys this controller owns: it adds and removes them as conditions change.
const MANAGED: [&str; 7] = [
    NOT_READY,
    UNREACHABLE,
    UNSCHEDULABLE,
    MEMORY_PRESSURE,
    DISK_PRESSURE,
    PID_PRESSURE,
    NETWORK_UNAVAILABLE,
];

pub fn conditions(node: &Node) -> &[NodeCondition] {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
}

/// The status of condition `type_` (`None` if the node has none).
pub fn status<'a>(node: &'a Node, type_: &str) -> Option<&'a str> {
    conditions(node)
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.as_str())
}

/// The node's conditions with Ready and the pressure conditions set to Unknown (those it
/// never had are added, saying the kubelet never posted them); `None` if nothing changes.
pub fn silenced(node: &Node, now: jiff::Timestamp) -> Option<Vec<NodeCondition>> {
    let mut out = conditions(node).to_vec();
    let mut changed = false;
    for type_ in WATCHED {
        match out.iter_mut().find(|c| c.type_ == type_) {
            Some(c) if c.status == "Unknown" => {}
            Some(c) => {
                c.status = "Unknown".into();
                c.reason = Some("NodeStatusUnknown".into());
                c.message = Some("Kubelet stopped posting node status.".into());
                c.last_transition_time = Some(Time(now));
                changed = true;
            }
            None => {
                out.push(NodeCondition {
                    type_: type_.into(),
                    status: "Unknown".into(),
                    reason: Some("NodeStatusNeverUpdated".into()),
                    message: Some("Kubelet never posted node status.".into()),
                    last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                    last_transition_time: Some(Time(now)),
                });
                changed = true;
            }
        }
    }
    changed.then_some(out)
}

/// The (key, effect) pairs of managed taints the node's state calls for.
fn wanted(node: &Node) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    match status(node, "Ready") {
        Some("False") => out.extend([(NOT_READY, NO_SCHEDULE), (NOT_READY, NO_EXECUTE)]),
        Some("Unknown") => out.extend([(UNREACHABLE, NO_SCHEDULE), (UNREACHABLE, NO_EXECUTE)]),
        _ => {}
    }
    for (type_, key) in [
        ("MemoryPressure", MEMORY_PRESSURE),
        ("DiskPressure", DISK_PRESSURE),
        ("PIDPressure", PID_PRESSURE),
        ("NetworkUnavailable", NETWORK_UNAVAILABLE),
    ] {
        if status(node, type_) == Some("True") {
            out.push((key, NO_SCHEDULE));
        }
    }
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        out.push((UNSCHEDULABLE, NO_SCHEDULE));
    }
    out
}

pub fn taints(node: &Node) -> &[Taint] {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default()
}

/// The node's taints with the managed ones matching its state (kept ones keep their
/// `timeAdded`; new NoExecute ones get `now`); `None` if nothing changes.
pub fn retainted(node: &Node, now: jiff::Timestamp) -> Option<Vec<Taint>> {
    let wanted = wanted(node);
    let current = taints(node);
    let mut out: Vec<Taint> = current
        .iter()
        .filter(|t| {
            !MANAGED.contains(&t.key.as_str())
                || wanted.contains(&(t.key.as_str(), t.effect.as_str()))
        })
        .cloned()
        .collect();
    for (key, effect) in &wanted {
        if !out.iter().any(|t| t.key == *key && t.effect == *effect) {
            out.push(Taint {
                key: (*key).into(),
                effect: (*effect).into(),
                value: None,
                time_added: (*effect == NO_EXECUTE).then_some(Time(now)),
            });
        }
    }
    (out != current).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(ready: &str, taints: serde_json::Value) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": "n"},
            "spec": {"taints": taints},
            "status": {"conditions": [
                {"type": "Ready", "status": ready, "reason": "KubeletReady"},
                {"type": "MemoryPressure", "status": "False"},
            ]}
        }))
        .unwrap()
    }

    #[test]
    fn silence_makes_everything_unknown() {
        let now = jiff::Timestamp::now();
        let c = silenced(&node("True", json!([])), now).unwrap();
        assert_eq!(c.len(), 4);
        assert!(c.iter().all(|c| c.status == "Unknown"));
        assert_eq!(c[0].reason.as_deref(), Some("NodeStatusUnknown"));
        assert_eq!(c[2].reason.as_deref(), Some("NodeStatusNeverUpdated"));
        let mut n = node("True", json!([]));
        n.status.as_mut().unwrap().conditions = Some(c);
        assert!(silenced(&n, now).is_none());
    }

    #[test]
    fn taints_follow_readiness() {
        let now = jiff::Timestamp::now();
        let custom = json!([{"key": "example.com/x", "effect": "NoSchedule"}]);
        let t = retainted(&node("Unknown", custom.clone()), now).unwrap();
        let keys: Vec<(&str, &str)> = t
            .iter()
            .map(|t| (t.key.as_str(), t.effect.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("example.com/x", "NoSchedule"),
                (UNREACHABLE, NO_SCHEDULE),
                (UNREACHABLE, NO_EXECUTE)
            ]
        );
        assert!(t[1].time_added.is_none() && t[2].time_added.is_some());
        let mut n = node("True", serde_json::to_value(&t).unwrap());
        assert_eq!(
            retainted(&n, now).unwrap().len(),
            1,
            "ready again: only the custom taint"
        );
        n = node("False", serde_json::to_value(&t).unwrap());
        let t = retainted(&n, now).unwrap();
        assert!(
            t.iter()
                .any(|t| t.key == NOT_READY && t.effect == NO_EXECUTE)
        );
        assert!(!t.iter().any(|t| t.key == UNREACHABLE));
        assert!(retainted(&node("True", custom), now).is_none());
    }
}
