//! The prober's worker for one probe of one container (the kubelet's `prober/worker.go`):
//! when the probe is due (`initialDelaySeconds` after the container started, then every
//! `periodSeconds`), and what its results amount to once `successThreshold` passes or
//! `failureThreshold` failures in a row are seen. A new container (its id changed) starts
//! over: not ready, live, not started. After a liveness or startup failure the probe holds
//! until the container is replaced; a startup probe stops once it succeeded, and liveness
//! and readiness wait for it.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Probe;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Liveness,
    Readiness,
    Startup,
}

impl Kind {
    /// As Events name it: `Liveness`.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Liveness => "Liveness",
            Kind::Readiness => "Readiness",
            Kind::Startup => "Startup",
        }
    }
}

/// One probe of one container.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub kind: Kind,
    pub container: String,
    pub probe: Probe,
    /// The container attempt (`krust://…`) the results are about.
    container_id: Option<String>,
    next: Option<Instant>,
    /// The last result and how many times in a row it came.
    last: Option<bool>,
    run: u32,
    /// The result as it stands (thresholds applied); `None` before any.
    pub result: Option<bool>,
    on_hold: bool,
}

/// What a probe result changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    None,
    /// The result flipped (readiness, or a startup probe that succeeded).
    Flipped,
    /// A liveness or startup probe failed for good: the container is to be killed.
    Kill,
}

impl Schedule {
    pub fn new(kind: Kind, container: &str, probe: &Probe) -> Self {
        Schedule {
            kind,
            container: container.into(),
            probe: probe.clone(),
            container_id: None,
            next: None,
            last: None,
            run: 0,
            result: None,
            on_hold: false,
        }
    }

    pub fn timeout(&self) -> Duration {
        secs(self.probe.timeout_seconds, 1)
    }

    fn period(&self) -> Duration {
        secs(self.probe.period_seconds, 10)
    }

    /// Follows the container attempt; a new one starts the probe over.
    pub fn follow(&mut self, container_id: Option<&str>) {
        if self.container_id.as_deref() != container_id {
            self.container_id = container_id.map(str::to_string);
            self.next = None;
            self.last = None;
            self.run = 0;
            self.result = None;
            self.on_hold = false;
        }
    }

    /// When the probe of a container running since `started` is due, or `None` when it is
    /// not to run (held, or a startup probe that is done).
    pub fn due(&self, started: Instant) -> Option<Instant> {
        if self.on_hold || (self.kind == Kind::Startup && self.result == Some(true)) {
            return None;
        }
        let first = started + secs(self.probe.initial_delay_seconds, 0);
        Some(self.next.map_or(first, |n| n.max(first)))
    }

    /// Records one result, run at `now`.
    pub fn record(&mut self, success: bool, now: Instant) -> Change {
        self.next = Some(now + self.period());
        if self.last == Some(success) {
            self.run += 1;
        } else {
            self.last = Some(success);
            self.run = 1;
        }
        let threshold = if success {
            threshold(self.probe.success_threshold, 1)
        } else {
            threshold(self.probe.failure_threshold, 3)
        };
        if self.run < threshold {
            return Change::None;
        }
        let before = self.result;
        self.result = Some(success);
        if !success && self.kind != Kind::Readiness {
            self.on_hold = true;
            self.run = 0;
            return Change::Kill;
        }
        if before != self.result && self.kind != Kind::Liveness {
            Change::Flipped
        } else {
            Change::None
        }
    }
}

fn secs(v: Option<i32>, default: i32) -> Duration {
    Duration::from_secs(v.unwrap_or(default).max(0) as u64)
}

fn threshold(v: Option<i32>, default: i32) -> u32 {
    v.unwrap_or(default).max(1) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(failure: i32, success: i32) -> Probe {
        Probe {
            failure_threshold: Some(failure),
            success_threshold: Some(success),
            period_seconds: Some(1),
            initial_delay_seconds: Some(2),
            ..Default::default()
        }
    }

    #[test]
    fn a_liveness_probe_kills_after_failure_threshold_failures_in_a_row() {
        let mut s = Schedule::new(Kind::Liveness, "c", &probe(3, 1));
        s.follow(Some("krust://a"));
        let now = Instant::now();
        assert_eq!(s.due(now), Some(now + Duration::from_secs(2)));
        assert_eq!(s.record(false, now), Change::None);
        assert_eq!(s.record(true, now), Change::None);
        assert_eq!(s.record(false, now), Change::None);
        assert_eq!(s.record(false, now), Change::None);
        assert_eq!(s.record(false, now), Change::Kill);
        assert_eq!(s.due(now), None, "held until the container is replaced");
        s.follow(Some("krust://b"));
        assert!(s.due(now).is_some());
        assert_eq!(s.result, None);
    }

    #[test]
    fn readiness_flips_after_success_threshold_successes() {
        let mut s = Schedule::new(Kind::Readiness, "c", &probe(1, 2));
        s.follow(Some("krust://a"));
        let now = Instant::now();
        assert_eq!(s.record(true, now), Change::None);
        assert_eq!(s.record(true, now), Change::Flipped);
        assert_eq!(s.result, Some(true));
        assert_eq!(s.record(true, now), Change::None);
        assert_eq!(s.record(false, now), Change::Flipped);
        assert_eq!(s.result, Some(false));
        assert!(s.due(now).is_some(), "readiness keeps probing");
    }

    #[test]
    fn a_startup_probe_stops_once_it_succeeded() {
        let mut s = Schedule::new(Kind::Startup, "c", &probe(1, 1));
        s.follow(Some("krust://a"));
        let now = Instant::now();
        assert_eq!(s.record(true, now), Change::Flipped);
        assert_eq!(s.due(now), None);
    }
}
