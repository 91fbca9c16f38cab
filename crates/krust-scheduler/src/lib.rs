//! The krust scheduler: places pods on nodes as kube-scheduler's default profile does.
//!
//! It watches nodes, pods and namespaces into its own cache, takes unassigned pods of
//! `default-scheduler` from a priority queue, filters and scores nodes with the default
//! plugins, and binds through `pods/binding`, posting `Scheduled` and `FailedScheduling`
//! events. See `scheduler.rs` for the loop.
#![forbid(unsafe_code)]

pub mod bind;
pub mod cache;
pub mod events;
pub mod filters;
pub mod fit_error;
pub mod informers;
pub mod objects;
pub mod podinfo;
pub mod quantity;
pub mod queue;
pub mod resources;
pub mod schedule;
pub mod scheduler;
pub mod scores;
pub mod selector;
pub mod status;
#[cfg(test)]
pub(crate) mod testing;

pub use podinfo::SCHEDULER_NAME;

/// Schedules pods of `default-scheduler` (or of no scheduler) until an error stops it.
pub async fn run(client: kube::Client) -> anyhow::Result<()> {
    let (updates_tx, updates) = tokio::sync::mpsc::channel(4096);
    let (bound_tx, bound) = tokio::sync::mpsc::unbounded_channel();
    let watches = informers::spawn(&client, updates_tx);
    let recorder = events::Recorder::new(client.clone());
    let binder = bind::Binder::new(client.clone(), bound_tx, recorder.clone());
    let status = status::StatusWriter::new(client);
    tracing::info!("scheduler {SCHEDULER_NAME} starting");
    let result = scheduler::Scheduler::new(binder, recorder, status)
        .run(updates, bound)
        .await;
    for w in watches {
        w.abort();
    }
    result
}
