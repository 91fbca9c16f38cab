//! Supervision of control loops: a loop that fails is restarted, and its siblings keep
//! running. Kubernetes' components get this from apimachinery's `wait.BackoffUntil` around
//! each worker and `runtime.HandleCrash`; here one function does both.
//!
//! [`supervise`] runs a loop (an async fn that should run forever) as a task of its own, so
//! that a panic is caught as the task's `JoinError` rather than unwinding through the caller.
//! When the loop returns an error, panics, or returns at all, the failure is logged
//! (`tracing::error!` with the loop's name and the error or panic message) and the loop is
//! started afresh after a backoff: 1 s, doubling up to 30 s, back to 1 s once a run has lasted
//! a minute.
//!
//! Dropping the supervising future aborts the running loop's task (a [`JoinSet`] aborts its
//! tasks when dropped), so cancellation (leadership lost) still stops everything.

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;
use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;

/// How long [`supervise`] waits before restarting a failed loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after a first failure (or after a run that lasted `reset_after`).
    pub initial: Duration,
    /// The longest wait: each further failure doubles the wait up to this.
    pub max: Duration,
    /// A run that lasted this long counts as healthy: the next wait is `initial` again.
    pub reset_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The wait after a run that lasted `ran_for`, given the wait before that run (`None`
    /// for the first run).
    pub fn next(&self, previous: Option<Duration>, ran_for: Duration) -> Duration {
        match previous {
            Some(previous) if ran_for < self.reset_after => (previous * 2).min(self.max),
            _ => self.initial.min(self.max),
        }
    }
}

/// Runs the loop `make()` under the name `name` with the default [`Backoff`], restarting it
/// whenever it fails; never returns (drop the future to stop the loop).
pub async fn supervise<F, Fut>(name: &str, make: F) -> Infallible
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    supervise_with(name, Backoff::default(), make).await
}

/// [`supervise`] with an explicit backoff.
pub async fn supervise_with<F, Fut>(name: &str, backoff: Backoff, mut make: F) -> Infallible
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let mut wait = None;
    loop {
        let started = Instant::now();
        // Aborts the loop's task if this future is dropped while awaiting it.
        let mut task = JoinSet::new();
        task.spawn(make());
        let outcome = task.join_next().await.expect("one task was spawned");
        let delay = backoff.next(wait, started.elapsed());
        wait = Some(delay);
        tracing::error!(
            controller = name,
            error = failure(outcome),
            restart_in = ?delay,
            "control loop stopped; restarting it"
        );
        tokio::time::sleep(delay).await;
    }
}

/// Why a loop's task ended, for the log.
fn failure(outcome: Result<anyhow::Result<()>, JoinError>) -> String {
    match outcome {
        Ok(Ok(())) => "returned without an error".to_string(),
        Ok(Err(error)) => format!("{error:#}"),
        Err(e) if e.is_panic() => format!("panicked: {}", panic_message(e.into_panic())),
        Err(e) => e.to_string(),
    }
}

/// The message a panic was raised with (`panic!("…")` gives a `&str` or a `String`).
fn panic_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(s) => s.to_string(),
            Err(_) => "(no message)".to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::sync::{mpsc, oneshot};

    /// Short enough for tests; a run of 1 s resets it.
    const FAST: Backoff = Backoff {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(40),
        reset_after: Duration::from_secs(1),
    };

    /// Runs `fut` for `d`, then drops it.
    async fn run_for<T>(d: Duration, fut: impl Future<Output = T>) {
        let _ = tokio::time::timeout(d, fut).await;
    }

    #[test]
    fn backoff_doubles_up_to_the_max_and_resets_after_a_healthy_run() {
        let b = Backoff::default();
        let quick = Duration::from_millis(5);
        let mut wait = None;
        let mut waits = Vec::new();
        for _ in 0..7 {
            let next = b.next(wait, quick);
            waits.push(next.as_secs());
            wait = Some(next);
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(
            b.next(wait, Duration::from_secs(60)),
            Duration::from_secs(1)
        );
        assert_eq!(
            b.next(wait, Duration::from_secs(59)),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn failures_are_described_with_their_message() {
        assert_eq!(
            failure(Ok(
                Err(anyhow::anyhow!("watch ended").context("replicaset"))
            )),
            "replicaset: watch ended"
        );
        assert_eq!(failure(Ok(Ok(()))), "returned without an error");
        let n = 7;
        assert_eq!(
            failure(in_a_task(move || panic!("index {n} out of range"))),
            "panicked: index 7 out of range"
        );
        assert_eq!(failure(in_a_task(|| panic!("static"))), "panicked: static");
    }

    /// Runs `f` as a task, and returns how the task ended.
    fn in_a_task(
        f: impl FnOnce() -> anyhow::Result<()> + Send + 'static,
    ) -> Result<anyhow::Result<()>, JoinError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let task = rt.spawn(async move { f() });
        rt.block_on(task)
    }

    #[tokio::test]
    async fn a_loop_that_panics_is_restarted() {
        let runs = Arc::new(AtomicUsize::new(0));
        let (started_tx, mut started) = mpsc::unbounded_channel();
        let make = {
            let runs = runs.clone();
            move || {
                let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                let started_tx = started_tx.clone();
                async move {
                    if run == 1 {
                        panic!("first run fails");
                    }
                    let _ = started_tx.send(run);
                    std::future::pending::<anyhow::Result<()>>().await
                }
            }
        };
        // Awaited rather than given a fixed time: printing the panic (with a backtrace) can
        // take a while on a busy machine.
        let supervisor = tokio::spawn(supervise_with("flaky", FAST, make));
        let second = tokio::time::timeout(Duration::from_secs(10), started.recv()).await;
        assert_eq!(
            second.ok().flatten(),
            Some(2),
            "not restarted after the panic"
        );
        // The second run keeps going: no third start.
        tokio::time::sleep(Duration::from_millis(100)).await;
        supervisor.abort();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failing_loop_does_not_stop_its_siblings() {
        let failures = Arc::new(AtomicUsize::new(0));
        let ticks = Arc::new(AtomicUsize::new(0));
        let healthy_runs = Arc::new(AtomicUsize::new(0));
        let failing = {
            let failures = failures.clone();
            move || {
                failures.fetch_add(1, Ordering::SeqCst);
                async { anyhow::bail!("the watch ended") }
            }
        };
        let healthy = {
            let (ticks, runs) = (ticks.clone(), healthy_runs.clone());
            move || {
                runs.fetch_add(1, Ordering::SeqCst);
                let ticks = ticks.clone();
                async move {
                    loop {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        ticks.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        };
        let both = async {
            tokio::join!(
                supervise_with("failing", FAST, failing),
                supervise_with("healthy", FAST, healthy),
            )
        };
        run_for(Duration::from_millis(400), both).await;
        // 10 + 20 + 40 + 40 … ms of backoff in 400 ms: restarted several times, not more.
        let failures = failures.load(Ordering::SeqCst);
        assert!((4..=12).contains(&failures), "{failures} runs");
        assert_eq!(healthy_runs.load(Ordering::SeqCst), 1);
        assert!(
            ticks.load(Ordering::SeqCst) >= 20,
            "the healthy loop stalled"
        );
    }

    /// Reports when dropped.
    struct DropSignal(Option<oneshot::Sender<()>>);

    impl Drop for DropSignal {
        fn drop(&mut self) {
            let _ = self.0.take().map(|tx| tx.send(()));
        }
    }

    #[tokio::test]
    async fn dropping_the_supervisor_stops_the_loop() {
        let (dropped_tx, dropped) = oneshot::channel();
        let (started_tx, started) = oneshot::channel();
        let ticks = Arc::new(AtomicUsize::new(0));
        let mut slot = Some((dropped_tx, started_tx));
        let make = {
            let ticks = ticks.clone();
            move || {
                let (dropped_tx, started_tx) = slot.take().expect("started only once");
                let ticks = ticks.clone();
                async move {
                    let _guard = DropSignal(Some(dropped_tx));
                    let _ = started_tx.send(());
                    loop {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        ticks.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        };
        let supervisor = tokio::spawn(supervise_with("doomed", FAST, make));
        started.await.expect("the loop started");
        supervisor.abort();
        tokio::time::timeout(Duration::from_secs(5), dropped)
            .await
            .expect("the loop was not dropped with its supervisor")
            .expect("the loop's guard signals");
        let after = ticks.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(ticks.load(Ordering::SeqCst), after, "the loop still runs");
    }
}
