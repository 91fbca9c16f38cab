//! One measured run: `writers` concurrent writers doing conditional writes while `watchers`
//! watch the run's prefix, then a check that every watcher got every write, in order.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use tokio::sync::watch;
use tokio::time::sleep_until;

use super::backend::{Backend, Outcome, Watch};

/// The shape of a run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Keys are `<prefix><namespace>/<name>`; the watchers watch `prefix`.
    pub prefix: String,
    pub writers: usize,
    pub watchers: usize,
    /// Total writes, split evenly across the writers.
    pub writes: usize,
    /// Objects each writer cycles through: the first write to each creates it.
    pub objects_per_writer: usize,
    /// Writers stop starting new writes after this long.
    pub max_time: Duration,
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct Measured {
    pub writes: usize,
    pub write_time: Duration,
    pub conflicts: u64,
    /// Write latencies, sorted.
    pub latencies: Vec<Duration>,
    /// Events delivered, summed over the watchers.
    pub events: usize,
    /// From the first write to the last event delivered to the last watcher.
    pub watch_time: Duration,
    /// Every watcher saw exactly the acknowledged writes, in revision order.
    pub in_order: bool,
    /// The writers hit `max_time`.
    pub timed_out: bool,
}

impl Measured {
    pub fn writes_per_sec(&self) -> f64 {
        self.writes as f64 / self.write_time.as_secs_f64()
    }

    pub fn events_per_sec(&self) -> f64 {
        self.events as f64 / self.watch_time.as_secs_f64()
    }

    /// How long after the last write was acknowledged the last watcher had every event.
    pub fn watch_lag_ms(&self) -> f64 {
        self.watch_time
            .saturating_sub(self.write_time)
            .as_secs_f64()
            * 1e3
    }

    /// The latency at quantile `q` (0..=1), in milliseconds.
    pub fn latency_ms(&self, q: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let index = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        self.latencies[index].as_secs_f64() * 1e3
    }
}

/// Runs `plan` against `backend`.
pub async fn run(backend: Arc<dyn Backend>, plan: &Plan) -> Result<Measured> {
    let after = backend.revision().await?;
    let mut watches = Vec::with_capacity(plan.watchers);
    for _ in 0..plan.watchers {
        watches.push(backend.watch(&plan.prefix, after).await?);
    }
    let (target_tx, target_rx) = watch::channel(None);
    let start = Instant::now();
    let deadline = start + plan.max_time;
    let watch_deadline = deadline + Duration::from_secs(30);

    let watchers: Vec<_> = watches
        .into_iter()
        .map(|w| tokio::spawn(watch_until(w, target_rx.clone(), watch_deadline.into())))
        .collect();
    let writers: Vec<_> = (0..plan.writers)
        .map(|id| {
            let share = plan.writes / plan.writers + usize::from(id < plan.writes % plan.writers);
            let backend = backend.clone();
            let plan = plan.clone();
            tokio::spawn(async move { write(&*backend, &plan, id, share, deadline).await })
        })
        .collect();

    let mut acked = Vec::with_capacity(plan.writes);
    let mut latencies = Vec::with_capacity(plan.writes);
    let mut conflicts = 0;
    for writer in writers {
        let done = writer.await??;
        acked.extend(done.revisions);
        latencies.extend(done.latencies);
        conflicts += done.conflicts;
    }
    let write_time = start.elapsed();
    acked.sort_unstable();
    latencies.sort_unstable();
    let _ = target_tx.send(Some(acked.last().copied().unwrap_or(after)));

    let mut events = 0;
    let mut in_order = true;
    let mut watch_end = start;
    for watcher in watchers {
        let (seen, finished) = watcher.await??;
        events += seen.len();
        in_order &= seen == acked;
        watch_end = watch_end.max(finished);
    }
    Ok(Measured {
        writes: acked.len(),
        write_time,
        conflicts,
        latencies,
        events,
        watch_time: watch_end - start,
        in_order,
        timed_out: acked.len() < plan.writes,
    })
}

struct WriterDone {
    revisions: Vec<i64>,
    latencies: Vec<Duration>,
    conflicts: u64,
}

/// One writer: `count` conditional writes cycling through its own objects, each write
/// comparing the revision the writer last saw (re-read on conflict).
async fn write(
    backend: &dyn Backend,
    plan: &Plan,
    id: usize,
    count: usize,
    deadline: Instant,
) -> Result<WriterDone> {
    let objects = plan.objects_per_writer.max(1);
    let mut known = vec![0; objects];
    let mut done = WriterDone {
        revisions: Vec::with_capacity(count),
        latencies: Vec::with_capacity(count),
        conflicts: 0,
    };
    for i in 0..count {
        if Instant::now() > deadline {
            break;
        }
        let slot = i % objects;
        let (namespace, name) = (format!("bench-{id:02}"), format!("pod-{slot}"));
        let key = format!("{}{namespace}/{name}", plan.prefix);
        let value = pod_json(&namespace, &name, i / objects);
        loop {
            let began = Instant::now();
            match backend.put_if(id, &key, value.clone(), known[slot]).await? {
                Outcome::Written(revision) => {
                    done.latencies.push(began.elapsed());
                    done.revisions.push(revision);
                    known[slot] = revision;
                    break;
                }
                Outcome::Conflict(current) => {
                    done.conflicts += 1;
                    known[slot] = current;
                    anyhow::ensure!(Instant::now() < deadline, "{key}: conflicts until timeout");
                }
            }
        }
    }
    Ok(done)
}

/// Collects a watch's revisions until it reaches the last acknowledged write (told through
/// `target` once the writers finish) or `deadline`; returns them and when it finished.
async fn watch_until(
    mut watch: Box<dyn Watch>,
    mut target: watch::Receiver<Option<i64>>,
    deadline: tokio::time::Instant,
) -> Result<(Vec<i64>, Instant)> {
    let mut seen = Vec::new();
    loop {
        let goal = *target.borrow_and_update();
        if let Some(goal) = goal
            && seen.last().copied().unwrap_or(i64::MIN) >= goal
        {
            return Ok((seen, Instant::now()));
        }
        tokio::select! {
            biased;
            more = watch.next(&mut seen) => {
                if !more.context("watching")? {
                    return Ok((seen, Instant::now()));
                }
            }
            changed = target.changed(), if goal.is_none() => {
                if changed.is_err() {
                    return Ok((seen, Instant::now()));
                }
            }
            () = sleep_until(deadline) => return Ok((seen, Instant::now())),
        }
    }
}

/// A Pod as the API server stores it, about 1 KiB of JSON.
pub fn pod_json(namespace: &str, name: &str, generation: usize) -> Bytes {
    const SIZE: usize = 1024;
    let render = |pad: &str| {
        format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","namespace":"{namespace}","uid":"6f1c2a4e-0b7d-4a53-9f3e-{generation:012}","generation":{generation},"creationTimestamp":"2025-01-01T00:00:00Z","labels":{{"app":"bench","pod-template-hash":"5d4f8c7b9"}},"annotations":{{"krust.dev/padding":"{pad}"}},"managedFields":[{{"manager":"kubectl-client-side-apply","operation":"Update","apiVersion":"v1","time":"2025-01-01T00:00:00Z"}}]}},"spec":{{"containers":[{{"name":"app","image":"registry.k8s.io/pause:3.10","resources":{{"requests":{{"cpu":"100m","memory":"64Mi"}}}},"terminationMessagePath":"/dev/termination-log","imagePullPolicy":"IfNotPresent"}}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","nodeName":"node-1","schedulerName":"default-scheduler"}},"status":{{"phase":"Running","podIP":"10.42.0.{octet}","qosClass":"Burstable"}}}}"#,
            octet = generation % 250 + 2,
        )
    };
    let bare = render("");
    let pad = "x".repeat(SIZE.saturating_sub(bare.len()));
    Bytes::from(render(&pad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_json_is_one_kib_of_json() {
        let pod = pod_json("bench-03", "pod-7", 41);
        assert_eq!(pod.len(), 1024);
        let text = std::str::from_utf8(&pod).unwrap();
        assert!(text.starts_with('{') && text.ends_with('}'));
        assert!(text.contains(r#""name":"pod-7""#));
    }
}
