//! The pod printer (`printPod`): READY, the aggregate STATUS reason, RESTARTS with the
//! time of the last restart, and the wide columns.

use jiff::Timestamp;
use serde_json::Value;

use super::Column;
use super::docs;
use super::util::{
    AGE_COL, NAME_COL, age, arr_at, col, condition_status, get, human_duration, int_at, parse_time,
    present, str_at,
};

pub(super) const COLUMNS: &[Column] = &[
    NAME_COL,
    col("Ready", docs::POD_READY, 0),
    col("Status", docs::POD_STATUS, 0),
    col("Restarts", docs::POD_RESTARTS, 0),
    AGE_COL,
    col("IP", docs::POD_IP, 1),
    col("Node", docs::POD_NODE_NAME, 1),
    col("Nominated Node", docs::POD_NOMINATED_NODE, 1),
    col("Readiness Gates", docs::POD_READINESS_GATES, 1),
];

/// `podutil.IsRestartableInitContainer`: a sidecar (`restartPolicy: Always`).
fn is_restartable(c: Option<&Value>) -> bool {
    c.is_some_and(|c| str_at(c, "restartPolicy") == "Always")
}

/// The later of two optional times (`lastRestartDate.Before(&terminatedDate)`).
fn later(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// When the container last terminated (`lastState.terminated.finishedAt`).
fn last_termination(status: &Value) -> Option<Timestamp> {
    parse_time(get(status, "lastState.terminated.finishedAt").and_then(Value::as_str))
}

/// `Signal:N` / `ExitCode:N` for a terminated state without a reason.
fn exit_reason(terminated: &Value) -> String {
    let signal = int_at(terminated, "signal");
    if signal != 0 {
        format!("Signal:{signal}")
    } else {
        format!("ExitCode:{}", int_at(terminated, "exitCode"))
    }
}

/// The pod's status summary: `(ready, total, reason, restarts, last restart)`.
struct Summary {
    ready: usize,
    total: usize,
    reason: String,
    restarts: i64,
    last_restart: Option<Timestamp>,
}

fn summarize(pod: &Value) -> Summary {
    let init_specs = arr_at(pod, "spec.initContainers");
    let spec_of = |name: &str| init_specs.iter().find(|c| str_at(c, "name") == name);
    let conditions = arr_at(pod, "status.conditions");
    let phase = str_at(pod, "status.phase");
    let mut s = Summary {
        ready: 0,
        total: arr_at(pod, "spec.containers").len()
            + init_specs
                .iter()
                .filter(|c| is_restartable(Some(c)))
                .count(),
        reason: match str_at(pod, "status.reason") {
            "" => phase.to_string(),
            r => r.to_string(),
        },
        restarts: 0,
        last_restart: None,
    };
    if conditions
        .iter()
        .any(|c| str_at(c, "type") == "PodScheduled" && str_at(c, "reason") == "SchedulingGated")
    {
        s.reason = "SchedulingGated".into();
    }

    let mut sidecar_restarts = 0;
    let mut sidecar_last_restart = None;
    let mut initializing = false;
    let init_statuses = arr_at(pod, "status.initContainerStatuses");
    for (i, c) in init_statuses.iter().enumerate() {
        let count = int_at(c, "restartCount");
        s.restarts += count;
        s.last_restart = later(s.last_restart, last_termination(c));
        let sidecar = is_restartable(spec_of(str_at(c, "name")));
        if sidecar {
            sidecar_restarts += count;
            sidecar_last_restart = later(sidecar_last_restart, last_termination(c));
        }
        let terminated = get(c, "state.terminated").filter(|t| !t.is_null());
        let waiting_reason = str_at(c, "state.waiting.reason");
        if terminated.is_some_and(|t| int_at(t, "exitCode") == 0) {
            continue;
        }
        if sidecar && get(c, "started").and_then(Value::as_bool) == Some(true) {
            if get(c, "ready").and_then(Value::as_bool) == Some(true) {
                s.ready += 1;
            }
            continue;
        }
        s.reason = if let Some(t) = terminated {
            match str_at(t, "reason") {
                "" => format!("Init:{}", exit_reason(t)),
                r => format!("Init:{r}"),
            }
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{i}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }

    if !initializing || condition_status(conditions, "Initialized") == Some("True") {
        s.restarts = sidecar_restarts;
        s.last_restart = sidecar_last_restart;
        let mut has_running = false;
        for c in arr_at(pod, "status.containerStatuses").iter().rev() {
            s.restarts += int_at(c, "restartCount");
            s.last_restart = later(s.last_restart, last_termination(c));
            let terminated = get(c, "state.terminated").filter(|t| !t.is_null());
            let waiting_reason = str_at(c, "state.waiting.reason");
            if present(c, "state.waiting") && !waiting_reason.is_empty() {
                s.reason = waiting_reason.to_string();
            } else if let Some(t) = terminated {
                s.reason = match str_at(t, "reason") {
                    "" => exit_reason(t),
                    r => r.to_string(),
                };
            } else if get(c, "ready").and_then(Value::as_bool) == Some(true)
                && present(c, "state.running")
            {
                has_running = true;
                s.ready += 1;
            }
        }
        // Back to "Running" if at least one container still reports running.
        if s.reason == "Completed" && has_running {
            s.reason = if conditions
                .iter()
                .any(|c| str_at(c, "type") == "Ready" && str_at(c, "status") == "True")
            {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }

    if present(pod, "metadata.deletionTimestamp") {
        if str_at(pod, "status.reason") == "NodeLost" {
            s.reason = "Unknown".into();
        } else if phase != "Failed" && phase != "Succeeded" {
            s.reason = "Terminating".into();
        }
    }
    s
}

pub(super) fn cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let s = summarize(pod);
    let mut restarts = s.restarts.to_string();
    if let (true, Some(at)) = (s.restarts != 0, s.last_restart) {
        restarts = format!(
            "{} ({} ago)",
            s.restarts,
            human_duration(now.duration_since(at))
        );
    }
    let or_none = |v: &str| {
        if v.is_empty() {
            "<none>".to_string()
        } else {
            v.to_string()
        }
    };
    let ip = match str_at(pod, "status.podIP") {
        "" => str_at(pod, "status.podIPs.0.ip"),
        ip => ip,
    };
    let gates = arr_at(pod, "spec.readinessGates");
    let readiness = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let conditions = arr_at(pod, "status.conditions");
        let ok = gates
            .iter()
            .filter(|g| condition_status(conditions, str_at(g, "conditionType")) == Some("True"))
            .count();
        format!("{ok}/{}", gates.len())
    };
    vec![
        Value::from(str_at(pod, "metadata.name")),
        Value::from(format!("{}/{}", s.ready, s.total)),
        Value::from(s.reason),
        Value::from(restarts),
        Value::from(age(
            get(pod, "metadata.creationTimestamp").and_then(Value::as_str),
            now,
        )),
        Value::from(or_none(ip)),
        Value::from(or_none(str_at(pod, "spec.nodeName"))),
        Value::from(or_none(str_at(pod, "status.nominatedNodeName"))),
        Value::from(readiness),
    ]
}
