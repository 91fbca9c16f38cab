//! The statuses a kubelet posts for a sim pod: Running (ready as its probes allow), then
//! terminated when it is deleted. Bodies of strategic merge patches on `pods/status`.

use std::time::Duration;

use super::view::{Container, Pod};
use serde_json::{Value, json};

use super::ids;
use crate::pod_conditions::{self, Condition};

/// When a container is ready, counted from its start: after its readiness probe's
/// `initialDelaySeconds` if it has one (the first probe succeeds), else at once.
pub fn ready_after(c: &Container) -> Duration {
    let delay = c
        .readiness_probe
        .as_ref()
        .and_then(|p| p.initial_delay_seconds)
        .unwrap_or(0);
    Duration::from_secs(delay.max(0) as u64)
}

/// The distinct positive delays after which more containers become ready, in order.
pub fn readiness_steps(pod: &Pod) -> Vec<Duration> {
    let mut steps: Vec<Duration> = containers(pod)
        .map(ready_after)
        .filter(|d| !d.is_zero())
        .collect();
    steps.sort();
    steps.dedup();
    steps
}

fn containers(pod: &Pod) -> impl Iterator<Item = &Container> {
    pod.spec.iter().flat_map(|s| s.containers.iter())
}

fn init_containers(pod: &Pod) -> impl Iterator<Item = &Container> {
    pod.spec
        .iter()
        .flat_map(|s| s.init_containers.iter().flatten())
}

/// Where a pod runs and since when.
pub struct Placement<'a> {
    pub host_ip: &'a str,
    pub pod_ip: &'a str,
    pub started: jiff::Timestamp,
}

pub fn container_id(pod_uid: &str, container: &str) -> String {
    format!("sim://{}", ids::hex64(&[pod_uid, container]))
}

fn base(c: &Container, uid: &str) -> Value {
    let image = ids::normalize_image(c.image.as_deref().unwrap_or_default());
    json!({
        "name": c.name,
        "imageID": format!("sim://sha256:{}", ids::hex64(&[&image])),
        "image": image,
        "containerID": container_id(uid, &c.name),
        "restartCount": 0,
        "lastState": {},
    })
}

/// The Running status `elapsed` after the containers started.
pub fn running(pod: &Pod, at: &Placement, elapsed: Duration) -> Value {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let started = krust_api::meta::timestamp(at.started);
    let mut unready = Vec::new();
    let statuses: Vec<Value> = containers(pod)
        .map(|c| {
            let ready = ready_after(c) <= elapsed;
            if !ready {
                unready.push(c.name.clone());
            }
            let mut s = base(c, uid);
            s["ready"] = json!(ready);
            s["started"] = json!(true);
            s["state"] = json!({"running": {"startedAt": started}});
            s
        })
        .collect();
    let inits: Vec<Value> = init_containers(pod)
        .map(|c| {
            let mut s = base(c, uid);
            if c.restart_policy.as_deref() == Some("Always") {
                // A sidecar: keeps running.
                s["ready"] = json!(true);
                s["started"] = json!(true);
                s["state"] = json!({"running": {"startedAt": started}});
            } else {
                s["ready"] = json!(true);
                s["started"] = json!(false);
                s["state"] = json!({"terminated": {"exitCode": 0, "reason": "Completed",
                    "startedAt": started, "finishedAt": started, "containerID": s["containerID"]}});
            }
            s
        })
        .collect();
    let ready = if unready.is_empty() {
        ("True", None, None)
    } else {
        let message = format!("containers with unready status: [{}]", unready.join(" "));
        ("False", Some("ContainersNotReady"), Some(message))
    };
    let conditions = [
        ("PodReadyToStartContainers", "True", None, None),
        ("Initialized", "True", None, None),
        ("Ready", ready.0, ready.1, ready.2.clone()),
        ("ContainersReady", ready.0, ready.1, ready.2),
        ("PodScheduled", "True", None, None),
    ];
    let mut status = json!({
        "phase": "Running",
        "hostIP": at.host_ip, "hostIPs": [{"ip": at.host_ip}],
        "podIP": at.pod_ip, "podIPs": [{"ip": at.pod_ip}],
        "startTime": started,
        "conditions": conditions_json(pod, &conditions),
        "containerStatuses": statuses,
    });
    if !inits.is_empty() {
        status["initContainerStatuses"] = json!(inits);
    }
    json!({"metadata": {"uid": uid}, "status": status})
}

/// The pod's ephemeral containers, each running since its time in `started` (by name;
/// the pod's start for one not there). The list is atomic in a strategic merge patch, so
/// every one is posted each time.
pub fn ephemeral_running(
    pod: &Pod,
    at: &Placement,
    started: &[(String, jiff::Timestamp)],
) -> Value {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let statuses: Vec<Value> = ephemeral_containers(pod)
        .map(|c| {
            let since = started
                .iter()
                .find(|(n, _)| *n == c.name)
                .map_or(at.started, |(_, t)| *t);
            let mut s = base(c, uid);
            s["ready"] = json!(false);
            s["state"] = json!({"running": {"startedAt": krust_api::meta::timestamp(since)}});
            s
        })
        .collect();
    json!({"metadata": {"uid": uid}, "status": {"ephemeralContainerStatuses": statuses}})
}

fn ephemeral_containers(pod: &Pod) -> impl Iterator<Item = &Container> {
    pod.spec
        .iter()
        .flat_map(|s| s.ephemeral_containers.iter().flatten())
}

/// The status once the containers stopped at `finished` (exit 0, as a process handling
/// SIGTERM): phase Succeeded, not ready, containers terminated.
pub fn terminated(pod: &Pod, at: &Placement, finished: jiff::Timestamp) -> Value {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let started = krust_api::meta::timestamp(at.started);
    let finished = krust_api::meta::timestamp(finished);
    let stopped = |c: &Container| {
        let mut s = base(c, uid);
        s["ready"] = json!(false);
        s["started"] = json!(false);
        s["state"] = json!({"terminated": {"exitCode": 0, "reason": "Completed",
            "startedAt": started, "finishedAt": finished, "containerID": s["containerID"]}});
        s
    };
    let completed = Some("PodCompleted");
    let conditions = [
        ("PodReadyToStartContainers", "False", None, None),
        ("Initialized", "True", completed, None),
        ("Ready", "False", completed, None),
        ("ContainersReady", "False", completed, None),
        ("PodScheduled", "True", None, None),
    ];
    let mut status = json!({
        "phase": "Succeeded",
        "hostIP": at.host_ip, "hostIPs": [{"ip": at.host_ip}],
        "podIP": at.pod_ip, "podIPs": [{"ip": at.pod_ip}],
        "startTime": started,
        "conditions": conditions_json(pod, &conditions),
        "containerStatuses": containers(pod).map(stopped).collect::<Vec<_>>(),
    });
    let inits: Vec<Value> = init_containers(pod).map(stopped).collect();
    if !inits.is_empty() {
        status["initContainerStatuses"] = json!(inits);
    }
    let ephemeral: Vec<Value> = ephemeral_containers(pod)
        .map(|c| {
            let mut s = stopped(c);
            s.as_object_mut().map(|m| m.remove("started"));
            s
        })
        .collect();
    if !ephemeral.is_empty() {
        status["ephemeralContainerStatuses"] = json!(ephemeral);
    }
    json!({"metadata": {"uid": uid}, "status": status})
}

/// Conditions with lastTransitionTime kept from the pod's current ones.
fn conditions_json(pod: &Pod, list: &[Condition<&str>]) -> Value {
    pod_conditions::json(list, |type_, status| {
        let current = pod.status.as_ref()?.conditions.as_ref()?;
        let c = current
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)?;
        c.last_transition_time.as_ref().map(|t| t.0)
    })
}
