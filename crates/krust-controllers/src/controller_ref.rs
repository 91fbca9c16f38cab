//! Adoption and release through controller references, as Kubernetes'
//! `pkg/controller/controller_ref_manager.go` (`BaseControllerRefManager.ClaimObject`): a
//! controller claims the orphans its selector matches and lets go of what it controls but no
//! longer matches. Writes carry the object's `resourceVersion`, so a claim never acts on a
//! stale copy. The ReplicaSet controller claims pods with it, the Deployment controller
//! ReplicaSets.

use crate::error::Error;
use crate::informer::controller_of;
use crate::selector;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use krust_api::selectors::LabelSelector;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;
use std::fmt::Debug;
use std::sync::Arc;

/// Replaces an object's ownerReferences if it is unchanged since it was read; `None` if the
/// object is gone.
async fn set_owners<K>(
    client: &Client,
    obj: &K,
    refs: Vec<OwnerReference>,
) -> Result<Option<K>, Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default());
    let refs = if refs.is_empty() {
        json!(null)
    } else {
        json!(refs)
    };
    let patch = json!({"metadata": {
        "resourceVersion": obj.meta().resource_version,
        "ownerReferences": refs,
    }});
    match api
        .patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(o) => Ok(Some(o)),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The controller about to claim: its reference, selector, and whether it is being deleted.
pub(crate) struct Claimer<'a> {
    /// The client adoptions and releases are written through.
    pub client: &'a Client,
    /// The controller reference it puts on what it adopts.
    pub owner: OwnerReference,
    /// What it selects.
    pub selector: &'a LabelSelector,
    /// Whether the controller is being deleted (it then adopts and releases nothing).
    pub deleting: bool,
}

impl Claimer<'_> {
    /// Returns the candidates the controller owns after adopting matching orphans and
    /// releasing non-matching owned objects. `candidates` are what it controls plus the
    /// orphans of its namespace; `still_alive` re-reads the controller before the first
    /// adoption (a controller being deleted adopts nothing).
    pub async fn claim<K>(
        &self,
        candidates: Vec<Arc<K>>,
        still_alive: impl AsyncFnOnce() -> Result<bool, Error>,
    ) -> Result<Vec<Arc<K>>, Error>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let uid = self.owner.uid.clone();
        let mut still_alive = Some(still_alive);
        let mut may_adopt = None;
        let mut owned = Vec::with_capacity(candidates.len());
        for obj in candidates {
            let labels = obj.meta().labels.as_ref();
            let matches = !self.selector.is_empty() && selector::matches(self.selector, labels);
            match controller_of(obj.as_ref()) {
                Some(c) if c.uid == uid => {
                    if matches {
                        owned.push(obj);
                    } else if !self.deleting {
                        let refs: Vec<_> = obj
                            .owner_references()
                            .iter()
                            .filter(|r| r.uid != uid)
                            .cloned()
                            .collect();
                        set_owners(self.client, obj.as_ref(), refs).await?;
                    }
                }
                Some(_) => {}
                None => {
                    if !matches || self.deleting || obj.meta().deletion_timestamp.is_some() {
                        continue;
                    }
                    if may_adopt.is_none()
                        && let Some(check) = still_alive.take()
                    {
                        may_adopt = Some(check().await?);
                    }
                    if may_adopt != Some(true) {
                        continue;
                    }
                    let mut refs = obj.owner_references().to_vec();
                    refs.push(self.owner.clone());
                    if let Some(adopted) = set_owners(self.client, obj.as_ref(), refs).await? {
                        owned.push(Arc::new(adopted));
                    }
                }
            }
        }
        Ok(owned)
    }
}
