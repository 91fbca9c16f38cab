//! The krust scheduler: places pods on nodes as kube-scheduler's default profile does.
//!
//! It watches nodes, pods and namespaces into its own cache, takes unassigned pods of
//! `default-scheduler` from a priority queue, filters and scores nodes with the default
//! plugins, and binds through `pods/binding`, posting `Scheduled` and `FailedScheduling`
//! events. See `scheduler.rs` for the loop.
#![forbid(unsafe_code)]

mod bind;
mod cache;
mod condition;
mod events;
mod filters;
mod fit_error;
mod informers;
pub mod offline;
mod podinfo;
mod queue;
mod requests;
mod schedule;
mod scheduler;
mod scores;
mod selector;
#[cfg(test)]
mod testing;
/// The lean views of Pods, Nodes and Namespaces the scheduler decodes into, and
/// `from_typed` for callers holding full `k8s-openapi` objects.
pub mod view;

pub use podinfo::SCHEDULER_NAME;

/// Schedules pods of `default-scheduler` (or of no scheduler) until an error stops it, or
/// until the returned future is dropped.
///
/// The scheduling loop and its watches run on a thread of their own (a single-threaded
/// runtime), as kube-scheduler runs in a process of its own: in the all-in-one binary the
/// API server, controllers and sim nodes keep the shared runtime busy, and a scheduler
/// task among theirs would see its watch events late.
pub async fn run(client: kube::Client) -> anyhow::Result<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (done_tx, done) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("krust-scheduler".into())
        .spawn(move || {
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
                .and_then(|rt| {
                    rt.block_on(async {
                        tokio::select! {
                            r = scheduler_main(client) => r,
                            // `run` was dropped: stop (the runtime ends its tasks).
                            _ = stopped => Ok(()),
                        }
                    })
                });
            let _ = done_tx.send(result);
        })?;
    let result = done
        .await
        .unwrap_or_else(|_| Err(anyhow::anyhow!("the scheduler thread ended")));
    drop(stop);
    result
}

async fn scheduler_main(client: kube::Client) -> anyhow::Result<()> {
    let (updates_tx, updates) = tokio::sync::mpsc::channel(4096);
    let (bound_tx, bound) = tokio::sync::mpsc::unbounded_channel();
    let watches = informers::spawn(&client, updates_tx);
    let recorder = events::Recorder::new(client.clone());
    let binder = bind::Binder::new(client.clone(), bound_tx, recorder.clone());
    let conditions = condition::ConditionWriter::new(client);
    tracing::info!("scheduler {SCHEDULER_NAME} starting");
    let result = scheduler::Scheduler::new(binder, recorder, conditions)
        .run(updates, bound)
        .await;
    for w in watches {
        w.abort();
    }
    result
}
