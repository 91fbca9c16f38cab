//! Deployment conditions and rollout progress (Kubernetes' `progress.go` and the condition
//! helpers of `deployment_util.go`): `Available`, `Progressing` (with
//! `ProgressDeadlineExceeded`), `ReplicaFailure`.

use super::Error;
use super::sync::Sync;
use super::util;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::time::Duration;

pub const PROGRESSING: &str = "Progressing";
pub const AVAILABLE: &str = "Available";
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

pub const REPLICA_SET_UPDATED: &str = "ReplicaSetUpdated";
pub const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";
pub const NEW_REPLICA_SET: &str = "NewReplicaSetCreated";
pub const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
pub const PAUSED: &str = "DeploymentPaused";
pub const RESUMED: &str = "DeploymentResumed";
pub const MIN_AVAILABLE: &str = "MinimumReplicasAvailable";
pub const MIN_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

/// Now, to the second (what the API keeps), so that unchanged conditions compare equal.
pub fn now() -> Time {
    let t = Timestamp::now();
    Time(Timestamp::from_second(t.as_second()).unwrap_or(t))
}

pub fn condition(type_: &str, status: &str, reason: &str, message: &str) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_update_time: Some(now()),
        last_transition_time: Some(now()),
    }
}

pub fn get<'a>(status: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
}

pub fn get_of<'a>(d: &'a Deployment, type_: &str) -> Option<&'a DeploymentCondition> {
    d.status.as_ref().and_then(|s| get(s, type_))
}

/// Adds or replaces a condition; one with the same status and reason is left alone, and the
/// transition time is kept while the status does not change (`SetDeploymentCondition`).
pub fn set(status: &mut DeploymentStatus, mut c: DeploymentCondition) {
    if let Some(current) = get(status, &c.type_) {
        if current.status == c.status && current.reason == c.reason {
            return;
        }
        if current.status == c.status {
            c.last_transition_time = current.last_transition_time.clone();
        }
    }
    remove(status, &c.type_);
    status.conditions.get_or_insert_with(Vec::new).push(c);
}

pub fn remove(status: &mut DeploymentStatus, type_: &str) {
    if let Some(list) = status.conditions.as_mut() {
        list.retain(|c| c.type_ != type_);
        if list.is_empty() {
            status.conditions = None;
        }
    }
}

pub fn has_progress_deadline(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .is_some_and(|s| s != i32::MAX)
}

fn deadline(d: &Deployment) -> SignedDuration {
    let secs = d
        .spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .unwrap_or(600);
    SignedDuration::from_secs(i64::from(secs))
}

/// All replicas updated and available, none old, the spec observed (`DeploymentComplete`).
pub fn complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let want = util::replicas(d);
    s.updated_replicas.unwrap_or(0) == want
        && s.replicas.unwrap_or(0) == want
        && s.available_replicas.unwrap_or(0) == want
        && s.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// Something moved since the last status (`DeploymentProgressing`).
fn progressing(d: &Deployment, new: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let n = |v: Option<i32>| v.unwrap_or(0);
    let old_old = n(old.replicas) - n(old.updated_replicas);
    let new_old = n(new.replicas) - n(new.updated_replicas);
    n(new.updated_replicas) > n(old.updated_replicas)
        || new_old < old_old
        || n(new.ready_replicas) > n(old.ready_replicas)
        || n(new.available_replicas) > n(old.available_replicas)
}

/// The last progress is older than `progressDeadlineSeconds` (`DeploymentTimedOut`).
fn timed_out(d: &Deployment, new: &DeploymentStatus) -> bool {
    if !has_progress_deadline(d) {
        return false;
    }
    let Some(c) = get(new, PROGRESSING) else {
        return false;
    };
    match c.reason.as_deref() {
        Some(NEW_RS_AVAILABLE) => false,
        Some(TIMED_OUT) => true,
        _ => c
            .last_update_time
            .as_ref()
            .is_some_and(|t| t.0 + deadline(d) < Timestamp::now()),
    }
}

/// `ReplicaFailure` conditions of the new ReplicaSet, else of the others.
fn replica_failures(
    all: &[&ReplicaSet],
    new_rs: Option<&ReplicaSet>,
) -> Option<DeploymentCondition> {
    let failure = |rs: &ReplicaSet| {
        rs.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == REPLICA_FAILURE))
            .map(|c| DeploymentCondition {
                type_: c.type_.clone(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
                last_update_time: c.last_transition_time.clone(),
                last_transition_time: c.last_transition_time.clone(),
            })
    };
    new_rs
        .and_then(failure)
        .or_else(|| all.iter().find_map(|rs| failure(rs)))
}

impl Sync<'_> {
    /// Status plus progress estimation (`syncRolloutStatus`); returns when to look again
    /// for a rollout that may miss its deadline.
    pub async fn sync_rollout_status(
        &mut self,
        all: &[&ReplicaSet],
        new_rs: Option<&ReplicaSet>,
    ) -> Result<Option<Duration>, Error> {
        let d = &self.d;
        let mut status = super::sync::calculate_status(all, new_rs, d);
        if !has_progress_deadline(d) {
            remove(&mut status, PROGRESSING);
        }
        let current = get_of(d, PROGRESSING).cloned();
        let is_complete = status.replicas == status.updated_replicas
            && current.as_ref().and_then(|c| c.reason.as_deref()) == Some(NEW_RS_AVAILABLE);
        if has_progress_deadline(d) && !is_complete {
            let rs_name = new_rs.map(|rs| rs.metadata.name.clone().unwrap_or_default());
            let name = d.metadata.name.clone().unwrap_or_default();
            let subject = |what: &str| match &rs_name {
                Some(rs) => format!("ReplicaSet \"{rs}\" {what}"),
                None => format!("Deployment \"{name}\" {what}"),
            };
            if complete(d, &status) {
                let msg = subject("has successfully progressed.");
                set(
                    &mut status,
                    condition(PROGRESSING, "True", NEW_RS_AVAILABLE, &msg),
                );
            } else if progressing(d, &status) {
                let msg = subject("is progressing.");
                let mut c = condition(PROGRESSING, "True", REPLICA_SET_UPDATED, &msg);
                if let Some(cur) = &current {
                    if cur.status == "True" {
                        c.last_transition_time = cur.last_transition_time.clone();
                    }
                    remove(&mut status, PROGRESSING);
                }
                set(&mut status, c);
            } else if timed_out(d, &status) {
                let msg = subject("has timed out progressing.");
                set(
                    &mut status,
                    condition(PROGRESSING, "False", TIMED_OUT, &msg),
                );
            }
        }
        match replica_failures(all, new_rs) {
            Some(c) => set(&mut status, c),
            None => remove(&mut status, REPLICA_FAILURE),
        }
        if self.d.status.as_ref() == Some(&status) {
            return Ok(self.stuck_requeue(&status));
        }
        self.update_status(status).await?;
        Ok(None)
    }

    /// When to check again a rollout that shows no progress (`requeueStuckDeployment`).
    fn stuck_requeue(&self, new: &DeploymentStatus) -> Option<Duration> {
        let d = &self.d;
        let current = get_of(d, PROGRESSING)?;
        if !has_progress_deadline(d)
            || complete(d, new)
            || current.reason.as_deref() == Some(TIMED_OUT)
        {
            return None;
        }
        let last = current.last_update_time.as_ref()?.0;
        let after = (last + deadline(d)).duration_since(Timestamp::now());
        let after = Duration::try_from(after).unwrap_or_default();
        Some(after + Duration::from_secs(1))
    }

    /// `Progressing: Unknown` while paused, and again on resume, so that time spent paused
    /// does not count against the deadline (`checkPausedConditions`).
    pub async fn check_paused_conditions(&mut self) -> Result<(), Error> {
        if !has_progress_deadline(&self.d) {
            return Ok(());
        }
        let current = get_of(&self.d, PROGRESSING);
        if current.and_then(|c| c.reason.as_deref()) == Some(TIMED_OUT) {
            return Ok(());
        }
        let paused_cond = current.and_then(|c| c.reason.as_deref()) == Some(PAUSED);
        let paused = self.d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        let c = if paused && !paused_cond {
            condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused")
        } else if !paused && paused_cond {
            condition(PROGRESSING, "Unknown", RESUMED, "Deployment is resumed")
        } else {
            return Ok(());
        };
        let mut status = self.d.status.clone().unwrap_or_default();
        set(&mut status, c);
        self.update_status(status).await
    }
}
