//! The parts of a Deployment sync every strategy shares (Kubernetes' `sync.go`): the new
//! ReplicaSet and revisions, scaling (proportional while a rollout is under way), history
//! cleanup, and the status.

use super::progress::{self, FAILED_RS_CREATE, FOUND_NEW_RS, NEW_REPLICA_SET, PROGRESSING};
use super::util::{self, HASH_LABEL, REVISION, rs_replicas};
use super::{Context, Error};
use crate::error::error_message;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use krust_component::events::reference;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, ResourceExt};
use std::collections::HashMap;
use std::sync::Arc;

/// The state of one Deployment sync: the Deployment as last written, and its ReplicaSets as
/// last written (every write replaces the copy here, so later steps see it).
pub struct Sync<'a> {
    pub ctx: &'a Context,
    pub d: Deployment,
    pub rs_list: Vec<ReplicaSet>,
    namespace: String,
}

/// The reference a Deployment puts on its ReplicaSets.
pub fn owner_ref(d: &Deployment) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        name: d.name_any(),
        uid: d.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn is_active(rs: &ReplicaSet) -> bool {
    rs_replicas(rs) > 0
}

/// The status the ReplicaSets give the Deployment (`calculateStatus`), with `Available`.
pub fn calculate_status(
    all: &[&ReplicaSet],
    new_rs: Option<&ReplicaSet>,
    d: &Deployment,
) -> DeploymentStatus {
    let available = util::sum(all.iter().copied(), util::available_replicas);
    let total = util::sum(all.iter().copied(), rs_replicas);
    let old = d.status.clone().unwrap_or_default();
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(util::sum(all.iter().copied(), util::status_replicas)),
        updated_replicas: Some(new_rs.map_or(0, util::status_replicas)),
        ready_replicas: Some(util::sum(all.iter().copied(), util::ready_replicas)),
        available_replicas: Some(available),
        unavailable_replicas: Some((total - available).max(0)),
        collision_count: old.collision_count,
        conditions: old.conditions,
        terminating_replicas: None,
    };
    if available >= util::replicas(d) - util::max_unavailable(d) {
        let c = progress::condition(
            progress::AVAILABLE,
            "True",
            progress::MIN_AVAILABLE,
            "Deployment has minimum availability.",
        );
        progress::set(&mut status, c);
    } else {
        let c = progress::condition(
            progress::AVAILABLE,
            "False",
            progress::MIN_UNAVAILABLE,
            "Deployment does not have minimum availability.",
        );
        progress::set(&mut status, c);
    }
    status
}

impl<'a> Sync<'a> {
    pub fn new(ctx: &'a Context, d: Deployment, rs_list: Vec<ReplicaSet>) -> Self {
        let namespace = d.namespace().unwrap_or_default();
        Self {
            ctx,
            d,
            rs_list,
            namespace,
        }
    }

    fn rs_api(&self) -> Api<ReplicaSet> {
        Api::namespaced(self.ctx.client.clone(), &self.namespace)
    }

    /// Keeps the written copy of a ReplicaSet.
    fn remember(&mut self, rs: &ReplicaSet) {
        match self
            .rs_list
            .iter_mut()
            .find(|r| r.metadata.uid == rs.metadata.uid)
        {
            Some(slot) => *slot = rs.clone(),
            None => self.rs_list.push(rs.clone()),
        }
    }

    /// The latest copy of a ReplicaSet.
    pub fn current(&self, rs: &ReplicaSet) -> ReplicaSet {
        self.rs_list
            .iter()
            .find(|r| r.metadata.uid == rs.metadata.uid)
            .cloned()
            .unwrap_or_else(|| rs.clone())
    }

    /// The latest copies of the new ReplicaSet and the old ones.
    pub fn refresh(
        &self,
        new_rs: Option<&ReplicaSet>,
        old: &[ReplicaSet],
    ) -> (Option<ReplicaSet>, Vec<ReplicaSet>) {
        (
            new_rs.map(|rs| self.current(rs)),
            old.iter().map(|rs| self.current(rs)).collect(),
        )
    }

    /// Writes the Deployment's status (and annotations, as `UpdateStatus` does).
    pub async fn update_status(&mut self, status: DeploymentStatus) -> Result<(), Error> {
        let mut d = self.d.clone();
        d.status = Some(status);
        let api: Api<Deployment> = Api::namespaced(self.ctx.client.clone(), &self.namespace);
        self.d = api
            .replace_status(&d.name_any(), &PostParams::default(), &d)
            .await?;
        Ok(())
    }

    async fn write_status(&mut self) -> Result<(), Error> {
        let status = self.d.status.clone().unwrap_or_default();
        self.update_status(status).await
    }

    /// Pods by the uid of the ReplicaSet controlling them (`getPodMapForDeployment`).
    pub fn pod_map(&self) -> HashMap<String, Vec<Arc<Pod>>> {
        self.rs_list
            .iter()
            .filter_map(|rs| rs.metadata.uid.clone())
            .map(|uid| {
                let pods = self.ctx.pods.controlled_by(&self.namespace, &uid);
                (uid, pods)
            })
            .collect()
    }

    /// The new ReplicaSet (created if asked and missing) and the old ones, with revisions
    /// synced (`getAllReplicaSetsAndSyncRevision`).
    pub async fn all_replica_sets(
        &mut self,
        create: bool,
    ) -> Result<(Option<ReplicaSet>, Vec<ReplicaSet>), Error> {
        let template = self.d.spec.clone().unwrap_or_default().template;
        let mut sorted = self.rs_list.clone();
        sorted.sort_by(util::by_creation);
        let existing = sorted
            .iter()
            .find(|rs| {
                rs.spec
                    .as_ref()
                    .and_then(|s| s.template.as_ref())
                    .is_some_and(|t| util::equal_ignore_hash(t, &template))
            })
            .cloned();
        let old: Vec<ReplicaSet> = sorted
            .into_iter()
            .filter(|rs| {
                existing
                    .as_ref()
                    .is_none_or(|e| e.metadata.uid != rs.metadata.uid)
            })
            .collect();
        let new_rs = self.new_replica_set(existing, &old, create).await?;
        Ok((new_rs, old))
    }

    async fn new_replica_set(
        &mut self,
        existing: Option<ReplicaSet>,
        old: &[ReplicaSet],
        create: bool,
    ) -> Result<Option<ReplicaSet>, Error> {
        let new_revision = util::max_revision(old) + 1;
        let spec = self.d.spec.clone().unwrap_or_default();
        if let Some(existing) = existing {
            let mut copy = existing.clone();
            let annotated = util::set_new_rs_annotations(&self.d, &mut copy, new_revision, true);
            let rs_spec = copy.spec.get_or_insert_with(Default::default);
            let min_ready =
                rs_spec.min_ready_seconds.unwrap_or(0) != spec.min_ready_seconds.unwrap_or(0);
            if annotated || min_ready {
                rs_spec.min_ready_seconds = spec.min_ready_seconds;
                let updated = self
                    .rs_api()
                    .replace(&copy.name_any(), &PostParams::default(), &copy)
                    .await?;
                self.remember(&updated);
                return Ok(Some(updated));
            }
            let revision = copy
                .annotations()
                .get(REVISION)
                .cloned()
                .unwrap_or_default();
            let mut needs_update = util::set_deployment_revision(&mut self.d, &revision);
            if progress::has_progress_deadline(&self.d)
                && progress::get_of(&self.d, PROGRESSING).is_none()
            {
                let msg = format!("Found new replica set \"{}\"", copy.name_any());
                let status = self.d.status.get_or_insert_with(Default::default);
                progress::set(
                    status,
                    progress::condition(PROGRESSING, "True", FOUND_NEW_RS, &msg),
                );
                needs_update = true;
            }
            if needs_update {
                self.write_status().await?;
            }
            return Ok(Some(copy));
        }
        if !create {
            return Ok(None);
        }

        let collision_count = self.d.status.as_ref().and_then(|s| s.collision_count);
        let hash = util::compute_hash(&spec.template, collision_count);
        let mut template = spec.template.clone();
        let meta = template.metadata.get_or_insert_with(Default::default);
        meta.labels
            .get_or_insert_with(Default::default)
            .insert(HASH_LABEL.into(), hash.clone());
        let labels = meta.labels.clone();
        let mut selector = spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(Default::default)
            .insert(HASH_LABEL.into(), hash.clone());
        let name = format!("{}-{hash}", self.d.name_any());
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(self.namespace.clone()),
                owner_references: Some(vec![owner_ref(&self.d)]),
                labels,
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: spec.min_ready_seconds,
                selector,
                template: Some(template),
            }),
            status: None,
        };
        let all: Vec<&ReplicaSet> = old.iter().chain([&rs]).collect();
        let replicas = util::new_rs_new_replicas(&self.d, &all, &rs);
        util::set_rs_replicas(&mut rs, replicas);
        util::set_new_rs_annotations(&self.d, &mut rs, new_revision, false);

        let (created, already_exists) =
            match self.rs_api().create(&PostParams::default(), &rs).await {
                Ok(created) => (created, false),
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    // A slow cache, or a hash collision.
                    let found = self.rs_api().get(&name).await?;
                    let ours = crate::informer::controller_of(&found)
                        .is_some_and(|c| Some(&c.uid) == self.d.metadata.uid.as_ref());
                    let same = found
                        .spec
                        .as_ref()
                        .and_then(|s| s.template.as_ref())
                        .is_some_and(|t| util::equal_ignore_hash(t, &spec.template));
                    if !(ours && same) {
                        let status = self.d.status.get_or_insert_with(Default::default);
                        status.collision_count = Some(status.collision_count.unwrap_or(0) + 1);
                        self.write_status().await?;
                        return Err(anyhow::anyhow!("hash collision for replica set {name}").into());
                    }
                    (found, true)
                }
                Err(e) => {
                    let msg = format!(
                        "Failed to create new replica set \"{name}\": {}",
                        error_message(&e)
                    );
                    if progress::has_progress_deadline(&self.d) {
                        let status = self.d.status.get_or_insert_with(Default::default);
                        let c = progress::condition(PROGRESSING, "False", FAILED_RS_CREATE, &msg);
                        progress::set(status, c);
                        let _ = self.write_status().await;
                    }
                    self.ctx
                        .recorder
                        .warning(&reference(&self.d), FAILED_RS_CREATE, &msg)
                        .await;
                    return Err(e.into());
                }
            };
        self.remember(&created);
        if !already_exists && replicas > 0 {
            let msg = format!("Scaled up replica set {name} from 0 to {replicas}");
            self.ctx
                .recorder
                .normal(&reference(&self.d), "ScalingReplicaSet", &msg)
                .await;
        }
        let mut needs_update =
            util::set_deployment_revision(&mut self.d, &new_revision.to_string());
        if !already_exists && progress::has_progress_deadline(&self.d) {
            let msg = format!("Created new replica set \"{name}\"");
            let status = self.d.status.get_or_insert_with(Default::default);
            progress::set(
                status,
                progress::condition(PROGRESSING, "True", NEW_REPLICA_SET, &msg),
            );
            needs_update = true;
        }
        if needs_update {
            self.write_status().await?;
        }
        Ok(Some(created))
    }

    /// Scales a ReplicaSet and posts `ScalingReplicaSet` (`scaleReplicaSetAndRecordEvent`).
    pub async fn scale_and_record(
        &mut self,
        rs: &ReplicaSet,
        n: i32,
    ) -> Result<(bool, ReplicaSet), Error> {
        if rs_replicas(rs) == n {
            return Ok((false, rs.clone()));
        }
        let op = if rs_replicas(rs) < n { "up" } else { "down" };
        self.scale_rs(rs, n, op).await
    }

    /// Sets a ReplicaSet's size and replicas annotations (`scaleReplicaSet`).
    async fn scale_rs(
        &mut self,
        rs: &ReplicaSet,
        n: i32,
        op: &str,
    ) -> Result<(bool, ReplicaSet), Error> {
        let rs = self.current(rs);
        let desired = util::replicas(&self.d);
        let max = desired + util::max_surge(&self.d);
        let resize = rs_replicas(&rs) != n;
        if !resize && !util::replicas_annotations_need_update(&rs, desired, max) {
            return Ok((false, rs));
        }
        let from = rs_replicas(&rs);
        let mut copy = rs.clone();
        util::set_rs_replicas(&mut copy, n);
        util::set_replicas_annotations(&mut copy, desired, max);
        let updated = self
            .rs_api()
            .replace(&copy.name_any(), &PostParams::default(), &copy)
            .await?;
        self.remember(&updated);
        if resize {
            let msg = format!(
                "Scaled {op} replica set {} from {from} to {n}",
                updated.name_any()
            );
            self.ctx
                .recorder
                .normal(&reference(&self.d), "ScalingReplicaSet", &msg)
                .await;
        }
        Ok((resize, updated))
    }

    /// Scaling outside a rollout, and proportional scaling during one (`scale`).
    pub async fn scale(
        &mut self,
        new_rs: Option<&ReplicaSet>,
        old: &[ReplicaSet],
    ) -> Result<(), Error> {
        let d = self.d.clone();
        let want = util::replicas(&d);
        if let Some(rs) = util::active_or_latest(new_rs, old) {
            if rs_replicas(rs) != want {
                let rs = rs.clone();
                self.scale_and_record(&rs, want).await?;
            }
            return Ok(());
        }
        if util::is_saturated(&d, new_rs) {
            for rs in old.iter().filter(|rs| is_active(rs)) {
                self.scale_and_record(rs, 0).await?;
            }
            return Ok(());
        }
        if !util::is_rolling(&d) {
            return Ok(());
        }
        let mut all: Vec<ReplicaSet> = old
            .iter()
            .chain(new_rs)
            .filter(|rs| is_active(rs))
            .cloned()
            .collect();
        let total = util::sum(all.iter(), rs_replicas);
        let allowed = if want > 0 {
            want + util::max_surge(&d)
        } else {
            0
        };
        let to_add = allowed - total;
        let op = match to_add {
            n if n > 0 => {
                all.sort_by(util::by_size_newer);
                "up"
            }
            n if n < 0 => {
                all.sort_by(util::by_size_older);
                "down"
            }
            _ => "",
        };
        let mut added = 0;
        let mut sizes = Vec::with_capacity(all.len());
        for rs in &all {
            if to_add != 0 {
                let p = util::proportion(rs, &d, to_add, added);
                sizes.push(rs_replicas(rs) + p);
                added += p;
            } else {
                sizes.push(rs_replicas(rs));
            }
        }
        for (i, rs) in all.iter().enumerate() {
            if i == 0 && to_add != 0 {
                sizes[0] = (sizes[0] + to_add - added).max(0);
            }
            self.scale_rs(rs, sizes[i], op).await?;
        }
        Ok(())
    }

    /// Deletes the oldest ReplicaSets beyond `revisionHistoryLimit` that have scaled to zero
    /// (`cleanupDeployment`).
    pub async fn cleanup(&mut self, old: &[ReplicaSet]) -> Result<(), Error> {
        let Some(limit) = self
            .d
            .spec
            .as_ref()
            .and_then(|s| s.revision_history_limit)
            .filter(|l| *l != i32::MAX)
        else {
            return Ok(());
        };
        let mut cleanable: Vec<ReplicaSet> = old
            .iter()
            .map(|rs| self.current(rs))
            .filter(|rs| rs.metadata.deletion_timestamp.is_none())
            .collect();
        let diff = cleanable.len() as i64 - i64::from(limit);
        if diff <= 0 {
            return Ok(());
        }
        cleanable.sort_by(util::by_revision);
        for rs in cleanable.iter().take(diff as usize) {
            let observed = rs
                .status
                .as_ref()
                .and_then(|s| s.observed_generation)
                .unwrap_or(0);
            if util::status_replicas(rs) != 0
                || rs_replicas(rs) != 0
                || rs.metadata.generation.unwrap_or(0) > observed
            {
                continue;
            }
            match self
                .rs_api()
                .delete(&rs.name_any(), &DeleteParams::default())
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
            self.rs_list.retain(|r| r.metadata.uid != rs.metadata.uid);
        }
        Ok(())
    }

    /// Writes the status if it changed (`syncDeploymentStatus`).
    pub async fn sync_status(
        &mut self,
        all: &[&ReplicaSet],
        new_rs: Option<&ReplicaSet>,
    ) -> Result<(), Error> {
        let status = calculate_status(all, new_rs, &self.d);
        if self.d.status.as_ref() == Some(&status) {
            return Ok(());
        }
        self.update_status(status).await
    }

    /// A change of `spec.replicas` that is not a rollout (`isScalingEvent`).
    pub async fn is_scaling_event(&mut self) -> Result<bool, Error> {
        let (new_rs, old) = self.all_replica_sets(false).await?;
        let want = util::replicas(&self.d);
        Ok(old
            .iter()
            .chain(new_rs.as_ref())
            .filter(|rs| is_active(rs))
            .filter_map(util::desired_replicas_annotation)
            .any(|desired| desired != want))
    }

    /// Scales (and, when paused, cleans up) without rolling (`sync`).
    pub async fn sync(&mut self) -> Result<(), Error> {
        let (new_rs, old) = self.all_replica_sets(false).await?;
        self.scale(new_rs.as_ref(), &old).await?;
        let (new_rs, old) = self.refresh(new_rs.as_ref(), &old);
        if self.d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false) {
            self.cleanup(&old).await?;
        }
        let (new_rs, old) = self.refresh(new_rs.as_ref(), &old);
        let all: Vec<&ReplicaSet> = old.iter().chain(new_rs.as_ref()).collect();
        self.sync_status(&all, new_rs.as_ref()).await
    }

    /// Only the status, for a Deployment being deleted (`syncStatusOnly`).
    pub async fn sync_status_only(&mut self) -> Result<(), Error> {
        let (new_rs, old) = self.all_replica_sets(false).await?;
        let all: Vec<&ReplicaSet> = old.iter().chain(new_rs.as_ref()).collect();
        self.sync_status(&all, new_rs.as_ref()).await
    }
}
