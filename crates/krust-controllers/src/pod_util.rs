//! What a pod's status says, as Kubernetes' `pkg/api/v1/pod/util.go` (`podutil`) reads it, with
//! `controller.IsPodActive` from `pkg/controller/controller_utils.go`: phase, readiness and
//! availability. Shared by the workload and endpoint controllers.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Pod;

/// The pod's phase, `""` when unset.
pub(crate) fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or_default()
}

/// Succeeded or Failed: the pod will never run again.
pub(crate) fn is_terminal(pod: &Pod) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

/// Not finished (Succeeded/Failed) and not being deleted (`controller.IsPodActive`).
pub(crate) fn is_active(pod: &Pod) -> bool {
    !is_terminal(pod) && pod.metadata.deletion_timestamp.is_none()
}

/// The `Ready` condition's status and last transition time.
fn ready_condition(pod: &Pod) -> Option<(bool, Option<Timestamp>)> {
    let conditions = pod.status.as_ref()?.conditions.as_ref()?;
    let c = conditions.iter().find(|c| c.type_ == "Ready")?;
    Some((
        c.status == "True",
        c.last_transition_time.as_ref().map(|t| t.0),
    ))
}

/// The `Ready` condition is `True` (`podutil.IsPodReady`).
pub(crate) fn is_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|(ready, _)| ready)
}

/// When the pod became ready, if it is.
pub(crate) fn ready_since(pod: &Pod) -> Option<Timestamp> {
    ready_condition(pod).and_then(|(ready, at)| if ready { at } else { None })
}

/// Ready for at least `min_ready_seconds` (`podutil.IsPodAvailable`).
pub(crate) fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    match ready_condition(pod) {
        Some((true, _)) if min_ready_seconds <= 0 => true,
        Some((true, Some(at))) => {
            at + SignedDuration::from_secs(i64::from(min_ready_seconds)) < now
        }
        _ => false,
    }
}

/// How long until a ready pod becomes available, if it is ready but not yet available.
pub(crate) fn until_available(
    pod: &Pod,
    min_ready_seconds: i32,
    now: Timestamp,
) -> Option<std::time::Duration> {
    if min_ready_seconds <= 0 || is_available(pod, min_ready_seconds, now) {
        return None;
    }
    let at = ready_since(pod)?;
    let due = at + SignedDuration::from_secs(i64::from(min_ready_seconds));
    let left = due.duration_since(now);
    Some(left.unsigned_abs() + std::time::Duration::from_millis(100))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ready_pod(phase: &str, ready_at: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "a", "uid": "a"},
            "spec": {"containers": []},
            "status": {"phase": phase, "conditions":
                [{"type": "Ready", "status": "True", "lastTransitionTime": ready_at}]},
        }))
        .unwrap()
    }

    #[test]
    fn availability_waits_for_min_ready_seconds() {
        let p = ready_pod("Running", "2024-01-01T00:00:00Z");
        let at: Timestamp = "2024-01-01T00:00:05Z".parse().unwrap();
        assert!(is_available(&p, 0, at));
        assert!(is_available(&p, 4, at));
        assert!(!is_available(&p, 5, at));
        assert!(until_available(&p, 10, at).is_some());
    }

    #[test]
    fn finished_pods_are_not_active() {
        let p = ready_pod("Succeeded", "2024-01-01T00:00:00Z");
        assert!(is_terminal(&p) && !is_active(&p) && is_ready(&p));
        assert!(is_active(&ready_pod("Running", "2024-01-01T00:00:00Z")));
    }
}
