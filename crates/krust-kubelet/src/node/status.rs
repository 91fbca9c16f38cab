//! A real pod's status as the kubelet's `generateAPIPodStatus` makes it: each container's
//! state (waiting with a reason, running, terminated), its last termination and restart
//! count; the pod's phase (`getPhase`) and its conditions (PodReadyToStartContainers,
//! Initialized, ContainersReady, Ready, PodScheduled), posted as a strategic merge patch of
//! `pods/status`. Ephemeral containers have their own `ephemeralContainerStatuses` and count
//! for neither the phase nor the conditions.

use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use crate::pod_conditions::{self, Condition};

/// What the worker knows of one container of the pod.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerRecord {
    pub name: String,
    /// An init container (`sidecar`: one with `restartPolicy: Always`).
    pub init: bool,
    pub sidecar: bool,
    /// An ephemeral container (`kubectl debug`): started once, never ready.
    pub ephemeral: bool,
    pub image: String,
    pub image_id: String,
    /// `krust://<id>` of the current attempt, once created.
    pub container_id: Option<String>,
    pub restart_count: u32,
    pub state: State,
    pub last: Option<Terminated>,
    /// Running and past its startup probe (if any).
    pub started: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum State {
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        started_at: jiff::Timestamp,
        ready: bool,
    },
    Terminated(Terminated),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Terminated {
    pub exit_code: i32,
    pub signal: Option<i32>,
    pub reason: String,
    pub message: Option<String>,
    pub started_at: Option<jiff::Timestamp>,
    pub finished_at: jiff::Timestamp,
    pub container_id: String,
}

impl ContainerRecord {
    /// A container not created yet.
    pub fn new(name: &str, image: &str, init: bool, sidecar: bool) -> Self {
        ContainerRecord {
            name: name.into(),
            init,
            sidecar,
            ephemeral: false,
            image: image.into(),
            image_id: String::new(),
            container_id: None,
            restart_count: 0,
            state: waiting("ContainerCreating", None),
            last: None,
            started: false,
        }
    }

    /// An ephemeral container not created yet.
    pub fn new_ephemeral(name: &str, image: &str) -> Self {
        ContainerRecord {
            ephemeral: true,
            ..Self::new(name, image, false, false)
        }
    }

    /// The pod spec's list the container is in: `initContainers`, `containers` or
    /// `ephemeralContainers`.
    pub fn list(&self) -> &'static str {
        match (self.init, self.ephemeral) {
            (true, _) => "initContainers",
            (_, true) => "ephemeralContainers",
            _ => "containers",
        }
    }

    pub fn is_running(&self) -> bool {
        matches!(self.state, State::Running { .. })
    }

    pub fn is_ready(&self) -> bool {
        matches!(self.state, State::Running { ready: true, .. })
    }

    /// Exited with code 0.
    pub fn succeeded(&self) -> bool {
        matches!(&self.state, State::Terminated(t) if t.exit_code == 0)
    }

    fn json(&self) -> Value {
        let state = match &self.state {
            State::Waiting { reason, message } => {
                json!({"waiting": {"reason": reason, "message": message}})
            }
            State::Running { started_at, .. } => {
                json!({"running": {"startedAt": krust_api::meta::timestamp(*started_at)}})
            }
            State::Terminated(t) => json!({"terminated": t.json()}),
        };
        let last = self
            .last
            .as_ref()
            .map_or(json!({}), |t| json!({"terminated": t.json()}));
        let mut status = json!({
            "name": self.name,
            "state": state,
            "lastState": last,
            "ready": self.is_ready() && !self.ephemeral,
            "restartCount": self.restart_count,
            "image": self.image,
            "imageID": self.image_id,
        });
        // The kubelet's prober sets `started` of containers and init containers only.
        if !self.ephemeral {
            status["started"] = json!(self.is_running() && self.started);
        }
        if let Some(id) = &self.container_id {
            status["containerID"] = json!(id);
        }
        status
    }
}

impl Terminated {
    fn json(&self) -> Value {
        let mut t = json!({
            "exitCode": self.exit_code,
            "reason": self.reason,
            "finishedAt": krust_api::meta::timestamp(self.finished_at),
            "containerID": self.container_id,
        });
        if let Some(s) = self.signal {
            t["signal"] = json!(s);
        }
        if let Some(m) = &self.message {
            t["message"] = json!(m);
        }
        t["startedAt"] = self
            .started_at
            .map_or(Value::Null, |s| json!(krust_api::meta::timestamp(s)));
        t
    }
}

/// A waiting state.
pub fn waiting(reason: &str, message: Option<String>) -> State {
    State::Waiting {
        reason: reason.into(),
        message,
    }
}

/// The pod's phase from its containers (the kubelet's `getPhase`).
pub fn phase(restart_policy: &str, records: &[ContainerRecord]) -> &'static str {
    let inits = records.iter().filter(|r| r.init && !r.sidecar);
    let mut pending_init = false;
    for r in inits {
        if r.succeeded() {
            continue;
        }
        let failed = matches!(&r.state, State::Terminated(t) if t.exit_code != 0);
        if failed && restart_policy == "Never" {
            return "Failed";
        }
        pending_init = true;
    }
    if pending_init {
        return "Pending";
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for r in records.iter().filter(|r| !r.init) {
        match &r.state {
            State::Running { .. } => running += 1,
            State::Terminated(t) => {
                stopped += 1;
                if t.exit_code == 0 {
                    succeeded += 1;
                }
            }
            State::Waiting { .. } if r.last.is_some() => stopped += 1,
            State::Waiting { .. } => waiting += 1,
        }
    }
    match () {
        _ if waiting > 0 => "Pending",
        _ if running > 0 => "Running",
        _ if stopped > 0 => match restart_policy {
            "Always" => "Running",
            _ if stopped == succeeded => "Succeeded",
            "Never" => "Failed",
            _ => "Running",
        },
        _ => "Pending",
    }
}

/// Where the pod runs: the node's and the pod's addresses, and when the kubelet took it.
pub struct Placement {
    pub host_ip: String,
    pub pod_ip: Option<String>,
    pub started: jiff::Timestamp,
    /// The sandbox and its network are ready.
    pub sandbox_ready: bool,
}

/// The `pods/status` patch for the pod's containers.
pub fn patch(pod: &Pod, at: &Placement, all: &[ContainerRecord]) -> Value {
    let (ephemeral, records): (Vec<ContainerRecord>, Vec<ContainerRecord>) =
        all.iter().cloned().partition(|r| r.ephemeral);
    let records = &records[..];
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let restart_policy = pod
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always");
    let phase = phase(restart_policy, records);
    let completed = matches!(phase, "Succeeded" | "Failed");
    let names = |f: &dyn Fn(&ContainerRecord) -> bool, init: bool| -> Vec<String> {
        records
            .iter()
            .filter(|r| r.init == init && f(r))
            .map(|r| r.name.clone())
            .collect()
    };
    let uninitialized = names(
        &|r| {
            if r.sidecar {
                !(r.is_running() && r.started)
            } else {
                !r.succeeded()
            }
        },
        true,
    );
    let unready = names(&|r| !r.is_ready(), false);
    let condition = |ok: bool, reason: &str, what: &str, list: &[String]| -> Cond {
        if ok {
            ("True", None, None)
        } else if completed {
            ("False", Some("PodCompleted".into()), None)
        } else {
            let message = format!("containers with {what} status: [{}]", list.join(" "));
            ("False", Some(reason.into()), Some(message))
        }
    };
    let initialized = condition(
        uninitialized.is_empty(),
        "ContainersNotInitialized",
        "incomplete",
        &uninitialized,
    );
    let ready = condition(
        unready.is_empty(),
        "ContainersNotReady",
        "unready",
        &unready,
    );
    let sandbox = if at.sandbox_ready && !completed {
        ("True", None, None)
    } else {
        ("False", None, None)
    };
    let conditions = [
        ("PodReadyToStartContainers", sandbox),
        ("Initialized", initialized),
        ("Ready", ready.clone()),
        ("ContainersReady", ready),
        ("PodScheduled", ("True", None, None)),
    ];
    let mut status = json!({
        "phase": phase,
        "hostIP": at.host_ip, "hostIPs": [{"ip": at.host_ip}],
        "startTime": krust_api::meta::timestamp(at.started),
        "conditions": conditions_json(pod, &conditions),
        "containerStatuses": records.iter().filter(|r| !r.init).map(ContainerRecord::json).collect::<Vec<_>>(),
    });
    if let Some(ip) = &at.pod_ip {
        status["podIP"] = json!(ip);
        status["podIPs"] = json!([{"ip": ip}]);
    }
    let inits: Vec<Value> = records
        .iter()
        .filter(|r| r.init)
        .map(ContainerRecord::json)
        .collect();
    if !inits.is_empty() {
        status["initContainerStatuses"] = json!(inits);
    }
    if !ephemeral.is_empty() {
        let list: Vec<Value> = ephemeral.iter().map(ContainerRecord::json).collect();
        status["ephemeralContainerStatuses"] = json!(list);
    }
    json!({"metadata": {"uid": uid}, "status": status})
}

type Cond = (&'static str, Option<String>, Option<String>);

/// Conditions with lastTransitionTime kept from the pod's current ones.
fn conditions_json(pod: &Pod, list: &[(&str, Cond)]) -> Value {
    let list: Vec<Condition<String>> = list
        .iter()
        .map(|(type_, (status, reason, message))| {
            (*type_, *status, reason.clone(), message.clone())
        })
        .collect();
    pod_conditions::json(&list, |type_, status| {
        let current = pod.status.as_ref()?.conditions.as_ref()?;
        let c = current
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)?;
        c.last_transition_time.as_ref().map(|t| t.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(name: &str, code: i32) -> ContainerRecord {
        let mut r = ContainerRecord::new(name, "img", false, false);
        r.state = State::Terminated(Terminated {
            exit_code: code,
            signal: None,
            reason: if code == 0 { "Completed" } else { "Error" }.into(),
            message: None,
            started_at: None,
            finished_at: jiff::Timestamp::now(),
            container_id: "krust://x".into(),
        });
        r
    }

    fn running(name: &str) -> ContainerRecord {
        let mut r = ContainerRecord::new(name, "img", false, false);
        r.state = State::Running {
            started_at: jiff::Timestamp::now(),
            ready: true,
        };
        r
    }

    #[test]
    fn a_pod_whose_containers_run_is_running() {
        assert_eq!(phase("Always", &[running("a"), running("b")]), "Running");
    }

    #[test]
    fn a_pod_waiting_for_a_container_is_pending() {
        let created = ContainerRecord::new("b", "img", false, false);
        assert_eq!(phase("Always", &[running("a"), created]), "Pending");
    }

    #[test]
    fn exits_give_the_phase_by_restart_policy() {
        assert_eq!(phase("Never", &[exited("a", 0)]), "Succeeded");
        assert_eq!(phase("Never", &[exited("a", 1)]), "Failed");
        assert_eq!(phase("OnFailure", &[exited("a", 0)]), "Succeeded");
        assert_eq!(phase("OnFailure", &[exited("a", 1)]), "Running");
        assert_eq!(phase("Always", &[exited("a", 0)]), "Running");
    }

    #[test]
    fn a_failed_init_container_fails_a_pod_that_never_restarts() {
        let mut init = exited("init", 2);
        init.init = true;
        assert_eq!(phase("Never", &[init.clone(), running("a")]), "Failed");
        assert_eq!(phase("Always", &[init]), "Pending");
    }

    #[test]
    fn ephemeral_containers_have_their_own_statuses_and_leave_phase_and_readiness_alone() {
        let mut debugger = running("debugger");
        debugger.ephemeral = true;
        let waiting = ContainerRecord::new_ephemeral("dbg", "img");
        let at = Placement {
            host_ip: "10.0.0.1".into(),
            pod_ip: None,
            started: jiff::Timestamp::now(),
            sandbox_ready: true,
        };
        let body = patch(&Pod::default(), &at, &[exited("app", 0), debugger, waiting]);
        let status = &body["status"];
        assert_eq!(status["phase"], "Running", "restartPolicy Always");
        let names: Vec<&str> = status["containerStatuses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["app"]);
        let ephemeral = status["ephemeralContainerStatuses"].as_array().unwrap();
        assert_eq!(ephemeral[0]["name"], "debugger");
        assert_eq!(ephemeral[0]["ready"], false);
        assert_eq!(ephemeral[0]["restartCount"], 0);
        assert!(ephemeral[0]["state"]["running"].is_object());
        assert!(ephemeral[0].get("started").is_none());
        assert_eq!(
            ephemeral[1]["state"]["waiting"]["reason"],
            "ContainerCreating"
        );
        let ready = status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "ContainersReady")
            .unwrap();
        assert_eq!(
            ready["message"], "containers with unready status: [app]",
            "{ready}"
        );
    }

    #[test]
    fn a_crash_looping_container_counts_as_stopped() {
        let mut r = exited("a", 1);
        let State::Terminated(t) = r.state.clone() else {
            unreachable!()
        };
        r.last = Some(t);
        r.state = waiting("CrashLoopBackOff", None);
        assert_eq!(phase("Always", &[r]), "Running");
    }
}
