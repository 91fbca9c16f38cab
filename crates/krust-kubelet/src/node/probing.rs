//! The probes of one pod, the kubelet's `prober_manager`: a [`Schedule`] for each startup,
//! liveness and readiness probe of its containers and sidecars, which of them are due, and
//! what their results make of each container's `started` and `ready`.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;

use super::probes::schedule::{Kind, Schedule};
use super::status::{ContainerRecord, State};

#[derive(Default)]
pub struct Prober {
    pub schedules: Vec<Schedule>,
}

impl Prober {
    pub fn new(pod: &Pod) -> Self {
        let mut schedules = Vec::new();
        let spec = pod.spec.as_ref();
        let sidecars = spec
            .into_iter()
            .flat_map(|s| s.init_containers.iter().flatten())
            .filter(|c| c.restart_policy.as_deref() == Some("Always"));
        let containers = spec.into_iter().flat_map(|s| s.containers.iter());
        for c in sidecars.chain(containers) {
            let probes = [
                (Kind::Startup, &c.startup_probe),
                (Kind::Liveness, &c.liveness_probe),
                (Kind::Readiness, &c.readiness_probe),
            ];
            for (kind, probe) in probes {
                if let Some(p) = probe {
                    schedules.push(Schedule::new(kind, &c.name, p));
                }
            }
        }
        Prober { schedules }
    }

    fn find(&self, name: &str, kind: Kind) -> Option<&Schedule> {
        self.schedules
            .iter()
            .find(|s| s.kind == kind && s.container == name)
    }

    /// Whether the container's startup probe (if any) succeeded.
    pub fn started(&self, name: &str) -> bool {
        self.find(name, Kind::Startup)
            .is_none_or(|s| s.result == Some(true))
    }

    /// Whether the container's readiness probe (if any) succeeded last.
    fn ready(&self, name: &str) -> bool {
        self.find(name, Kind::Readiness)
            .is_none_or(|s| s.result == Some(true))
    }

    /// Follows each container's current attempt.
    pub fn follow(&mut self, records: &[ContainerRecord]) {
        for s in &mut self.schedules {
            let id = records
                .iter()
                .find(|r| r.name == s.container)
                .and_then(|r| r.container_id.as_deref());
            s.follow(id);
        }
    }

    /// The probes due at `now` (indexes into `schedules`) and when the next one is due.
    pub fn due(&self, records: &[ContainerRecord], now: Instant) -> (Vec<usize>, Option<Instant>) {
        let mut due = Vec::new();
        let mut wake: Option<Instant> = None;
        for (k, s) in self.schedules.iter().enumerate() {
            let Some(r) = records.iter().find(|r| r.name == s.container) else {
                continue;
            };
            let State::Running { started_at, .. } = &r.state else {
                continue;
            };
            if s.kind != Kind::Startup && !self.started(&s.container) {
                continue;
            }
            let ago = jiff::Timestamp::now().duration_since(*started_at);
            let ago = Duration::try_from(ago).unwrap_or_default();
            let started = now.checked_sub(ago).unwrap_or(now);
            let Some(at) = s.due(started) else {
                continue;
            };
            if at <= now {
                due.push(k);
            } else {
                wake = Some(wake.map_or(at, |w| w.min(at)));
            }
        }
        (due, wake)
    }

    /// Sets each container's `started` and `ready` from the results.
    pub fn apply(&self, records: &mut [ContainerRecord]) {
        for r in records {
            let started = r.is_running() && self.started(&r.name);
            r.started = started;
            let ready = started && self.ready(&r.name);
            if let State::Running {
                ready: ref mut now, ..
            } = r.state
            {
                *now = ready;
            }
        }
    }
}
