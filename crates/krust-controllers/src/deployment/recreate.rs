//! The Recreate strategy (Kubernetes' `recreate.go`): every old pod goes before the new
//! ReplicaSet scales up.

use super::Error;
use super::sync::Sync;
use super::util::{self, rs_replicas};
use crate::pod_util;
use k8s_openapi::api::apps::v1::ReplicaSet;
use std::time::Duration;

impl Sync<'_> {
    /// One step of a recreate rollout (`rolloutRecreate`); returns when to look again.
    pub async fn rollout_recreate(&mut self) -> Result<Option<Duration>, Error> {
        // The new ReplicaSet is not created before the old pods are gone.
        let (new_rs, old) = self.all_replica_sets(false).await?;
        let mut scaled_down = false;
        for rs in old.iter().filter(|rs| rs_replicas(rs) > 0) {
            scaled_down |= self.scale_and_record(rs, 0).await?.0;
        }
        let (mut new_rs, mut old) = self.refresh(new_rs.as_ref(), &old);
        if scaled_down || self.old_pods_running(new_rs.as_ref(), &old) {
            let all: Vec<&ReplicaSet> = old.iter().chain(new_rs.as_ref()).collect();
            return self.sync_rollout_status(&all, new_rs.as_ref()).await;
        }
        if new_rs.is_none() {
            (new_rs, old) = self.all_replica_sets(true).await?;
        }
        if let Some(rs) = &new_rs {
            let want = util::replicas(&self.d);
            self.scale_and_record(rs, want).await?;
        }
        if super::progress::complete(&self.d, &self.d.status.clone().unwrap_or_default()) {
            self.cleanup(&old).await?;
        }
        let (new_rs, old) = self.refresh(new_rs.as_ref(), &old);
        let all: Vec<&ReplicaSet> = old.iter().chain(new_rs.as_ref()).collect();
        self.sync_rollout_status(&all, new_rs.as_ref()).await
    }

    /// Whether any pod of an old ReplicaSet may still run (`oldPodsRunning`).
    fn old_pods_running(&self, new_rs: Option<&ReplicaSet>, old: &[ReplicaSet]) -> bool {
        if util::sum(old.iter(), util::status_replicas) > 0 {
            return true;
        }
        let new_uid = new_rs.and_then(|rs| rs.metadata.uid.clone());
        self.pod_map()
            .into_iter()
            .filter(|(uid, _)| Some(uid) != new_uid.as_ref())
            .flat_map(|(_, pods)| pods)
            .any(|p| !pod_util::is_terminal(&p))
    }
}
