//! The machine's speed at the time of a run: a fixed CPU workload timed in the benchmark's own
//! process, before and after the measurement.
//!
//! The machines these benchmarks run on are shared: their speed drifts by a quarter within
//! minutes, so the same binary gives different pods/s from one run to the next. The workload
//! is what the cluster spends its CPU on (a Pod's JSON, managedFields included, parsed into a
//! tree, walked and serialized again), on one thread; throughput divided by its rate is a
//! figure that can be compared across runs taken in different phases.

use std::time::{Duration, Instant};

use serde_json::Value;

/// A Pod as the store holds it once it runs: spec, status and three managers' fields.
const POD: &str = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"creationTimestamp":"2026-01-01T00:00:00Z","labels":{"app":"bench","pod-template-hash":"5d8f7c9b4"},"managedFields":[{"apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:app":{},"f:pod-template-hash":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:resources":{".":{},"f:limits":{".":{},"f:cpu":{},"f:memory":{}},"f:requests":{".":{},"f:cpu":{},"f:memory":{}}},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:enableServiceLinks":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},"f:terminationGracePeriodSeconds":{}}},"manager":"krust-bench","operation":"Update","time":"2026-01-01T00:00:00Z"},{"apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{"f:status":{"f:conditions":{"k:{\"type\":\"ContainersReady\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Initialized\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Ready\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}}},"f:containerStatuses":{},"f:hostIP":{},"f:phase":{},"f:podIP":{},"f:startTime":{}}},"manager":"kubelet","operation":"Update","subresource":"status","time":"2026-01-01T00:00:01Z"}],"name":"bench-12345","namespace":"bench","uid":"0b6f1c3e-5f3a-4c1e-9a57-3f1d2c4b5a69"},"spec":{"containers":[{"image":"registry.k8s.io/pause:3.10","imagePullPolicy":"IfNotPresent","name":"app","resources":{"limits":{"cpu":"100m","memory":"500Mi"},"requests":{"cpu":"100m","memory":"500Mi"}},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","enableServiceLinks":true,"nodeName":"sim-node-42","preemptionPolicy":"PreemptLowerPriority","priority":0,"restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"serviceAccountName":"default","terminationGracePeriodSeconds":30,"tolerations":[{"effect":"NoExecute","key":"node.kubernetes.io/not-ready","operator":"Exists","tolerationSeconds":300},{"effect":"NoExecute","key":"node.kubernetes.io/unreachable","operator":"Exists","tolerationSeconds":300}]},"status":{"conditions":[{"lastProbeTime":null,"lastTransitionTime":"2026-01-01T00:00:01Z","status":"True","type":"Initialized"},{"lastProbeTime":null,"lastTransitionTime":"2026-01-01T00:00:01Z","status":"True","type":"Ready"},{"lastProbeTime":null,"lastTransitionTime":"2026-01-01T00:00:01Z","status":"True","type":"ContainersReady"},{"lastProbeTime":null,"lastTransitionTime":"2026-01-01T00:00:00Z","status":"True","type":"PodScheduled"}],"containerStatuses":[{"containerID":"sim://4f2a","image":"registry.k8s.io/pause:3.10","imageID":"sim://sha256:9e1f","lastState":{},"name":"app","ready":true,"restartCount":0,"started":true,"state":{"running":{"startedAt":"2026-01-01T00:00:01Z"}}}],"hostIP":"172.31.0.43","phase":"Running","podIP":"10.42.42.7","startTime":"2026-01-01T00:00:01Z"}}"#;

/// How long one timing of the workload runs.
const SPAN: Duration = Duration::from_millis(300);

/// Rounds of the workload per second on one thread, now.
pub fn rate() -> f64 {
    let start = Instant::now();
    let mut rounds = 0u64;
    let mut bytes = 0usize;
    while start.elapsed() < SPAN {
        let mut pod: Value = serde_json::from_str(POD).expect("the reference pod is JSON");
        if let Some(labels) = pod
            .pointer_mut("/metadata/labels")
            .and_then(Value::as_object_mut)
        {
            labels.insert("round".into(), rounds.into());
        }
        bytes += serde_json::to_vec(&pod).expect("serializable").len();
        rounds += 1;
    }
    std::hint::black_box(bytes);
    rounds as f64 / start.elapsed().as_secs_f64()
}

/// [`rate`] on a blocking thread, off the runtime the measured cluster runs on.
pub async fn rate_now() -> f64 {
    tokio::task::spawn_blocking(rate).await.unwrap_or(0.0)
}

/// The machine's speed before and after a measurement.
#[derive(Clone, Copy, Debug)]
pub struct Speed {
    pub before: f64,
    pub after: f64,
}

impl Speed {
    /// Rounds per second over both timings.
    pub fn mean(&self) -> f64 {
        (self.before + self.after) / 2.0
    }

    /// `per_second` of the benchmark per 1,000 rounds of the reference workload: a figure to
    /// compare across runs taken while the machine ran at different speeds.
    pub fn normalized(&self, per_second: f64) -> f64 {
        per_second / self.mean().max(1e-9) * 1000.0
    }

    /// The report line.
    pub fn line(&self) -> String {
        format!(
            "machine speed: reference workload (one Pod's JSON parsed, changed, serialized, one \
             thread) {:.0} rounds/s before, {:.0} after",
            self.before, self.after
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workload_runs_and_normalizes() {
        let speed = Speed {
            before: rate(),
            after: 20_000.0,
        };
        assert!(speed.before > 100.0, "{speed:?}");
        let half = Speed {
            before: speed.mean() / 2.0,
            after: speed.mean() / 2.0,
        };
        assert!((half.normalized(1000.0) - 2.0 * speed.normalized(1000.0)).abs() < 1e-6);
    }
}
