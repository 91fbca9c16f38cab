//! Taint-based eviction: whether, and when, a pod must leave a node with NoExecute taints.

use k8s_openapi::api::core::v1::{Taint, Toleration};
use std::time::Duration;

/// What the taints of a pod's node mean for it.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It may stay.
    Stay,
    /// It must go now.
    Now,
    /// It must go this long after the taints were first seen on its node.
    After(Duration),
}

/// `Toleration.ToleratesTaint`.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if t.effect
        .as_deref()
        .is_some_and(|e| !e.is_empty() && e != taint.effect)
    {
        return false;
    }
    if t.key
        .as_deref()
        .is_some_and(|k| !k.is_empty() && k != taint.key)
    {
        return false;
    }
    match t.operator.as_deref() {
        None | Some("" | "Equal") => {
            t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        Some("Exists") => true,
        Some(_) => false,
    }
}

/// The verdict for a pod with `tolerations` on a node with the NoExecute `taints`: each
/// taint must be tolerated (by the first toleration matching it); the shortest
/// `tolerationSeconds` of those tolerations bounds the stay (none: forever).
pub fn verdict(taints: &[&Taint], tolerations: &[Toleration]) -> Verdict {
    if taints.is_empty() {
        return Verdict::Stay;
    }
    let mut min: Option<i64> = None;
    for taint in taints {
        let Some(t) = tolerations.iter().find(|t| tolerates(t, taint)) else {
            return Verdict::Now;
        };
        if let Some(s) = t.toleration_seconds {
            min = Some(min.map_or(s, |m| m.min(s)));
        }
    }
    match min {
        None => Verdict::Stay,
        Some(s) if s <= 0 => Verdict::Now,
        Some(s) => Verdict::After(Duration::from_secs(s as u64)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn taint(key: &str) -> Taint {
        serde_json::from_value(json!({"key": key, "effect": "NoExecute"})).unwrap()
    }

    fn tolerations(v: serde_json::Value) -> Vec<Toleration> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn verdicts() {
        let unreachable = taint("node.kubernetes.io/unreachable");
        let custom = taint("example.com/evict");
        let default = tolerations(json!([
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        ]));
        assert_eq!(
            verdict(&[&unreachable], &default),
            Verdict::After(Duration::from_secs(300))
        );
        assert_eq!(verdict(&[&unreachable, &custom], &default), Verdict::Now);
        assert_eq!(verdict(&[], &default), Verdict::Stay);
        let forever = tolerations(json!([{"operator": "Exists"}]));
        assert_eq!(verdict(&[&unreachable, &custom], &forever), Verdict::Stay);
        let zero = tolerations(
            json!([{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 0}]),
        );
        assert_eq!(verdict(&[&unreachable], &zero), Verdict::Now);
        let wrong_effect = tolerations(
            json!([{"key": "example.com/evict", "operator": "Exists", "effect": "NoSchedule"}]),
        );
        assert_eq!(verdict(&[&custom], &wrong_effect), Verdict::Now);
        let value =
            tolerations(json!([{"key": "example.com/evict", "value": "", "effect": "NoExecute"}]));
        assert_eq!(verdict(&[&custom], &value), Verdict::Stay);
    }
}
