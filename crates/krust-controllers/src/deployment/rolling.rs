//! The RollingUpdate strategy (Kubernetes' `rolling.go`): scale the new ReplicaSet up within
//! `maxSurge`, the old ones down within `maxUnavailable`, unhealthy old pods first.

use super::Error;
use super::sync::Sync;
use super::util::{self, counted_available, rs_replicas};
use k8s_openapi::api::apps::v1::ReplicaSet;
use std::time::Duration;

impl Sync<'_> {
    /// One step of a rolling update (`rolloutRolling`); returns when to look again.
    pub async fn rollout_rolling(&mut self) -> Result<Option<Duration>, Error> {
        let (new_rs, old) = self.all_replica_sets(true).await?;
        let Some(new_rs) = new_rs else {
            return Err(anyhow::anyhow!("no new replica set").into());
        };
        let all: Vec<&ReplicaSet> = old.iter().chain([&new_rs]).collect();
        let scaled_up = self.reconcile_new_replica_set(&all, &new_rs).await?;
        let (new_rs, old) = self.refresh(Some(&new_rs), &old);
        let new_rs = new_rs.expect("new replica set");
        if !scaled_up {
            let active: Vec<ReplicaSet> = old
                .iter()
                .filter(|rs| rs_replicas(rs) > 0)
                .cloned()
                .collect();
            let all: Vec<&ReplicaSet> = old.iter().chain([&new_rs]).collect();
            let scaled_down = self
                .reconcile_old_replica_sets(&all, active, &new_rs)
                .await?;
            if !scaled_down
                && super::progress::complete(&self.d, &self.d.status.clone().unwrap_or_default())
            {
                self.cleanup(&old).await?;
            }
        }
        let (new_rs, old) = self.refresh(Some(&new_rs), &old);
        let all: Vec<&ReplicaSet> = old.iter().chain(new_rs.as_ref()).collect();
        self.sync_rollout_status(&all, new_rs.as_ref()).await
    }

    /// Scales the new ReplicaSet toward `spec.replicas` within the surge (`reconcileNewReplicaSet`).
    async fn reconcile_new_replica_set(
        &mut self,
        all: &[&ReplicaSet],
        new_rs: &ReplicaSet,
    ) -> Result<bool, Error> {
        let want = util::replicas(&self.d);
        if rs_replicas(new_rs) == want {
            return Ok(false);
        }
        let n = if rs_replicas(new_rs) > want {
            want
        } else {
            util::new_rs_new_replicas(&self.d, all, new_rs)
        };
        Ok(self.scale_and_record(new_rs, n).await?.0)
    }

    /// Scales old ReplicaSets down as far as availability allows (`reconcileOldReplicaSets`).
    async fn reconcile_old_replica_sets(
        &mut self,
        all: &[&ReplicaSet],
        old: Vec<ReplicaSet>,
        new_rs: &ReplicaSet,
    ) -> Result<bool, Error> {
        if util::sum(old.iter(), rs_replicas) == 0 {
            return Ok(false);
        }
        let all_pods = util::sum(all.iter().copied(), rs_replicas);
        let min_available = util::replicas(&self.d) - util::max_unavailable(&self.d);
        let new_unavailable = rs_replicas(new_rs) - counted_available(new_rs);
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(false);
        }
        // Unhealthy old replicas go first: removing them costs no availability.
        let (old, cleaned) = self
            .cleanup_unhealthy_replicas(old, max_scaled_down)
            .await?;
        let new_rs = self.current(new_rs);
        let all: Vec<&ReplicaSet> = old.iter().chain([&new_rs]).collect();
        let scaled = self.scale_down_old_replica_sets(&all, &old).await?;
        Ok(cleaned + scaled > 0)
    }

    /// Scales old ReplicaSets down by their unavailable replicas, at most `max` in all.
    async fn cleanup_unhealthy_replicas(
        &mut self,
        mut old: Vec<ReplicaSet>,
        max: i32,
    ) -> Result<(Vec<ReplicaSet>, i32), Error> {
        old.sort_by(util::by_creation);
        let mut total = 0;
        for rs in old.iter_mut() {
            if total >= max {
                break;
            }
            let replicas = rs_replicas(rs);
            let available = counted_available(rs);
            if replicas == 0 || replicas == available {
                continue;
            }
            let down = (max - total).min(replicas - available);
            let (_, updated) = self.scale_and_record(rs, replicas - down).await?;
            *rs = updated;
            total += down;
        }
        Ok((old, total))
    }

    /// Scales old ReplicaSets down while availability stays at least
    /// `replicas - maxUnavailable` (`scaleDownOldReplicaSetsForRollingUpdate`).
    async fn scale_down_old_replica_sets(
        &mut self,
        all: &[&ReplicaSet],
        old: &[ReplicaSet],
    ) -> Result<i32, Error> {
        let min_available = util::replicas(&self.d) - util::max_unavailable(&self.d);
        let available = util::sum(all.iter().copied(), counted_available);
        if available <= min_available {
            return Ok(0);
        }
        let mut old = old.to_vec();
        old.sort_by(util::by_creation);
        let to_scale = available - min_available;
        let mut total = 0;
        for rs in &old {
            if total >= to_scale {
                break;
            }
            let replicas = rs_replicas(rs);
            if replicas == 0 {
                continue;
            }
            let down = replicas.min(to_scale - total);
            self.scale_and_record(rs, replicas - down).await?;
            total += down;
        }
        Ok(total)
    }
}
