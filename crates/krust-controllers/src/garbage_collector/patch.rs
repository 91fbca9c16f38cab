//! The collector's writes to an object's metadata: owner references removed or made
//! non-blocking, finalizers removed. Mirrors `patch.go` and `operations.go` of Kubernetes'
//! `pkg/controller/garbagecollector` (read fresh, write pinned to the resourceVersion read).

use super::graph::Node;
use super::{Gc, Meta};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::json;
use std::collections::HashSet;

/// `refs` with `blockOwnerDeletion` cleared: on the reference to `only`, or on all of them.
pub(super) fn unblocked(refs: &[OwnerReference], only: Option<&str>) -> Vec<OwnerReference> {
    let mut refs = refs.to_vec();
    for r in &mut refs {
        if r.block_owner_deletion == Some(true) && only.is_none_or(|uid| r.uid == uid) {
            r.block_owner_deletion = Some(false);
        }
    }
    refs
}

/// A merge patch setting `metadata.<field>` to `list` (`null` when empty).
fn set_list<T: serde::Serialize>(field: &str, list: &[T]) -> serde_json::Value {
    let value = if list.is_empty() {
        json!(null)
    } else {
        json!(list)
    };
    json!({"metadata": {field: value}})
}

impl Gc {
    /// Removes the owner references to `uids` from `node` (read fresh, written with its
    /// resourceVersion; retried on conflicts).
    pub(super) async fn remove_owner_refs(
        &self,
        node: &Node,
        uids: &HashSet<String>,
    ) -> anyhow::Result<()> {
        self.edit(node, |obj| {
            let refs = obj.owner_references();
            let kept: Vec<&OwnerReference> =
                refs.iter().filter(|r| !uids.contains(&r.uid)).collect();
            (kept.len() != refs.len()).then(|| set_list("ownerReferences", &kept))
        })
        .await
        .map(drop)
    }

    /// Makes `node`'s references (to `only`, or all) non-blocking, so that the owners it
    /// blocks need not wait for it; returns its metadata after the change, if it changed.
    pub(super) async fn unblock(
        &self,
        node: &Node,
        only: Option<&str>,
    ) -> anyhow::Result<Option<ObjectMeta>> {
        self.edit(node, |obj| {
            let refs = obj.owner_references();
            let after = unblocked(refs, only);
            (after != refs).then(|| set_list("ownerReferences", &after))
        })
        .await
    }

    pub(super) async fn remove_finalizer(
        &self,
        node: &Node,
        finalizer: &str,
    ) -> anyhow::Result<()> {
        self.edit(node, |obj| {
            let all = obj.finalizers();
            let kept: Vec<&String> = all.iter().filter(|f| *f != finalizer).collect();
            (kept.len() != all.len()).then(|| set_list("finalizers", &kept))
        })
        .await
        .map(drop)
    }

    /// Reads `node` and, if `change` returns a merge patch for it, applies that patch pinned
    /// to the resourceVersion read; returns the metadata written. Gone or replaced objects
    /// are left alone.
    async fn edit(
        &self,
        node: &Node,
        change: impl Fn(&Meta) -> Option<serde_json::Value>,
    ) -> anyhow::Result<Option<ObjectMeta>> {
        let api: Api<Meta> = node.resource.api(&self.client, node.namespace.as_deref());
        let dynamic: Api<DynamicObject> =
            node.resource.api(&self.client, node.namespace.as_deref());
        for _ in 0..5 {
            let Some(obj) = api.get_opt(&node.name).await? else {
                return Ok(None);
            };
            if obj.uid().as_deref() != Some(node.uid.as_str()) {
                return Ok(None);
            }
            let Some(mut patch) = change(&obj) else {
                return Ok(None);
            };
            patch["metadata"]["resourceVersion"] = json!(obj.resource_version());
            match dynamic
                .patch(&node.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(o) => return Ok(Some(o.metadata)),
                Err(kube::Error::Api(e)) if e.code == 409 => continue,
                Err(kube::Error::Api(e)) if e.code == 404 => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        anyhow::bail!("{} kept changing", node.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(uid: &str, block: Option<bool>) -> OwnerReference {
        OwnerReference {
            uid: uid.into(),
            block_owner_deletion: block,
            ..Default::default()
        }
    }

    #[test]
    fn unblocking_clears_only_blocking_references_asked_for() {
        let refs = [r("a", Some(true)), r("b", Some(true)), r("c", None)];
        let one = unblocked(&refs, Some("b"));
        assert_eq!(one[0].block_owner_deletion, Some(true));
        assert_eq!(one[1].block_owner_deletion, Some(false));
        assert_eq!(one[2].block_owner_deletion, None);
        let all = unblocked(&refs, None);
        assert_eq!(all[0].block_owner_deletion, Some(false));
        assert_eq!(all[2].block_owner_deletion, None);
    }
}
