//! What a container is doing, read from its directory and `/proc` alone (as CRI-O rebuilds
//! its state from conmon's exit files), so a restarted agent sees what the last one left;
//! and its CPU and memory counters (`ContainerStats`, from its cgroup).

use std::time::SystemTime;

use crate::cgroup::{self, ContainerStats};
use crate::error::{Context, Result};
use crate::exits::monitor_alive;
use crate::runtime::Runtime;
use crate::spec::{ContainerState, ContainerStatus};
use crate::state::{self, ContainerDir, ContainerRecord, Exit, Started};

impl Runtime {
    /// The status of one container.
    pub async fn container_status(&self, id: &str) -> Result<ContainerStatus> {
        let record = self.record(id)?;
        let state = state_of(&self.container_dir(id), &record)?;
        Ok(status(record, state))
    }

    /// Every container in the state directory.
    pub async fn list_containers(&self) -> Result<Vec<ContainerStatus>> {
        let entries = std::fs::read_dir(self.config().root.join("containers"))
            .context("reading the containers directory")?;
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let dir = ContainerDir(entry.path());
            let Some(record) = state::read_json::<ContainerRecord>(&dir.record())? else {
                continue;
            };
            let state = state_of(&dir, &record)?;
            out.push(status(record, state));
        }
        Ok(out)
    }

    /// CPU and memory use of a container, from its cgroup (v1).
    pub async fn stats(&self, id: &str) -> Result<ContainerStats> {
        let record = self.record(id)?;
        cgroup::stats(&record.cgroup)
    }
}

fn state_of(dir: &ContainerDir, record: &ContainerRecord) -> Result<ContainerState> {
    if let Some(exit) = state::read_json::<Exit>(&dir.exit())? {
        return Ok(exited(exit));
    }
    let started = state::read_json::<Started>(&dir.started())?;
    if monitor_alive(dir) {
        return Ok(match started {
            Some(s) => ContainerState::Running {
                pid: s.pid,
                started_at: s.started_at,
            },
            None => ContainerState::Created {
                created_at: record.created_at,
            },
        });
    }
    // The monitor ended: it wrote the exit just before (read again), or it was killed.
    if let Some(exit) = state::read_json::<Exit>(&dir.exit())? {
        return Ok(exited(exit));
    }
    if started.is_none() && !dir.monitor().exists() {
        return Ok(ContainerState::Created {
            created_at: record.created_at,
        });
    }
    Ok(ContainerState::Exited {
        exit_code: 255,
        reason: Some("Unknown".into()),
        message: Some("the container's monitor ended without recording its exit".into()),
        started_at: started.map(|s| s.started_at),
        finished_at: SystemTime::now(),
    })
}

fn exited(exit: Exit) -> ContainerState {
    ContainerState::Exited {
        exit_code: exit.exit_code,
        reason: exit.reason,
        message: exit.message,
        started_at: exit.started_at,
        finished_at: exit.finished_at,
    }
}

fn status(record: ContainerRecord, state: ContainerState) -> ContainerStatus {
    let spec = record.spec;
    ContainerStatus {
        id: record.id,
        sandbox_id: spec.sandbox_id,
        name: spec.name,
        attempt: spec.attempt,
        labels: spec.labels,
        image: spec.image,
        image_id: spec.image_id,
        log_path: spec.log_path,
        state,
    }
}
