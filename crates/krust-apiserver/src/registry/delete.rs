//! Delete: preconditions, propagation finalizers, graceful pod deletion, finalizers.

use super::{MAX_RETRIES, Registry, conflict, decode, store_error, unless_overtaken};
use krust_api::meta;
use krust_api::resources::Resource;
use krust_api::status::ApiError;
use serde_json::{Value, json};

/// Namespaces the system needs: deleting them is forbidden, as in Kubernetes.
const PROTECTED_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// `DeleteOptions`, from the body or the query.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    /// `Orphan`, `Background` or `Foreground`.
    pub propagation_policy: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub dry_run: bool,
}

impl DeleteOptions {
    /// Reads a `DeleteOptions` body (absent fields stay as they are).
    pub fn merge_body(&mut self, body: &Value) -> Result<(), ApiError> {
        if let Some(g) = body.get("gracePeriodSeconds").filter(|v| !v.is_null()) {
            self.grace_period_seconds =
                Some(g.as_i64().ok_or_else(|| {
                    ApiError::bad_request("gracePeriodSeconds must be an integer")
                })?);
        }
        if let Some(p) = body.get("propagationPolicy").and_then(Value::as_str) {
            self.propagation_policy = Some(p.to_string());
        }
        if body.get("orphanDependents").and_then(Value::as_bool) == Some(true) {
            self.propagation_policy = Some("Orphan".into());
        }
        if let Some(u) = body.pointer("/preconditions/uid").and_then(Value::as_str) {
            self.precondition_uid = Some(u.to_string());
        }
        if let Some(r) = body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
        {
            self.precondition_resource_version = Some(r.to_string());
        }
        if body
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v == "All"))
        {
            self.dry_run = true;
        }
        match self.propagation_policy.as_deref() {
            None | Some("Orphan" | "Background" | "Foreground") => Ok(()),
            Some(other) => Err(ApiError::invalid(
                "",
                "DeleteOptions",
                "",
                vec![krust_api::status::Cause::not_supported(
                    "propagationPolicy",
                    &json!(other),
                    &["Foreground", "Background", "Orphan", "nil"],
                )],
            )),
        }
    }
}

/// The outcome of a delete.
pub enum Deleted {
    /// Gone from the store; the last state.
    Gone(Value),
    /// Marked for deletion (grace period or finalizers pending); the current state.
    Pending(Value),
}

impl Registry {
    /// Deletes an object as Kubernetes does. A write that comes between the read and the
    /// delete (a controller's, a node's) makes it read again and go on, as kube-apiserver's
    /// deletion does; only the caller's own preconditions answer 409.
    pub async fn delete(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Deleted, ApiError> {
        for _ in 0..=MAX_RETRIES {
            if let Some(deleted) = self.delete_once(resource, namespace, name, opts).await? {
                return Ok(deleted);
            }
        }
        Err(conflict(resource, name))
    }

    /// One read and one conditional write of [`Registry::delete`]; `None` when another write
    /// came in between.
    async fn delete_once(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Option<Deleted>, ApiError> {
        let key = resource.key(namespace, name);
        let kv = self
            .store
            .get(&key)
            .await
            .map_err(|e| store_error(resource, name, e))?
            .ok_or_else(|| ApiError::not_found(resource.group, resource.plural, name))?;
        if resource.builtin_kind() == "Namespace" && PROTECTED_NAMESPACES.contains(&name) {
            let msg =
                format!("namespaces {name:?} is forbidden: this namespace may not be deleted");
            let mut e = ApiError::new(403, "Forbidden", msg);
            e.name = Some(name.to_string());
            e.kind = Some("namespaces".into());
            return Err(e);
        }
        let mut obj = decode(&kv)?;
        let failed = |why: String| {
            ApiError::conflict(
                resource.group,
                resource.plural,
                name,
                &format!("Precondition failed: {why}"),
            )
        };
        let uid = meta::meta_str(&obj, "uid").unwrap_or("").to_string();
        if let Some(want) = &opts.precondition_uid
            && *want != uid
        {
            return Err(failed(format!(
                "UID in precondition: {want}, UID in object meta: {uid}"
            )));
        }
        if let Some(want) = &opts.precondition_resource_version
            && *want != kv.mod_revision.to_string()
        {
            return Err(failed(format!(
                "ResourceVersion in precondition: {want}, ResourceVersion in object meta: {}",
                kv.mod_revision
            )));
        }
        let mut finalizers = meta::finalizers(&obj);
        let propagation = match opts.propagation_policy.as_deref() {
            Some("Orphan") => Some("orphan"),
            Some("Foreground") => Some("foregroundDeletion"),
            _ => None,
        };
        if let Some(f) = propagation
            && !finalizers.iter().any(|x| x == f)
        {
            finalizers.push(f.to_string());
        }
        // A definition's objects go first (apiextensions-apiserver's finalizer controller).
        let cleanup = krust_api::custom::definition::CLEANUP_FINALIZER;
        if resource.builtin_kind() == "CustomResourceDefinition"
            && !finalizers.iter().any(|x| x == cleanup)
        {
            finalizers.push(cleanup.to_string());
        }
        let grace = self.grace_period(resource, &obj, opts);
        let namespace_pending = resource.builtin_kind() == "Namespace"
            && obj
                .pointer("/spec/finalizers")
                .and_then(Value::as_array)
                .is_some_and(|f| !f.is_empty());
        if opts.dry_run {
            return Ok(Some(Deleted::Gone(obj)));
        }
        if grace > 0 || !finalizers.is_empty() || namespace_pending {
            let already = meta::is_terminating(&obj);
            let m = meta::metadata_mut(&mut obj);
            if !finalizers.is_empty() {
                m.insert("finalizers".into(), json!(finalizers));
            }
            let current_grace = m.get("deletionGracePeriodSeconds").and_then(Value::as_i64);
            if !already || current_grace.is_some_and(|g| grace < g) {
                let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(grace);
                m.insert("deletionTimestamp".into(), json!(meta::timestamp(at)));
                m.insert("deletionGracePeriodSeconds".into(), json!(grace));
            }
            if namespace_pending {
                obj["status"]["phase"] = json!("Terminating");
            }
            if resource.builtin_kind() == "CustomResourceDefinition" {
                obj["status"] = self.definition_status(&obj);
            }
            let updated = self
                .store
                .update(&key, super::encode(&obj), kv.mod_revision)
                .await;
            let Some(kv) = unless_overtaken(updated, resource, name)? else {
                return Ok(None);
            };
            return Ok(Some(Deleted::Pending(super::written(obj, &kv))));
        }
        let deleted = self.store.delete(&key, Some(kv.mod_revision)).await;
        let Some(gone) = unless_overtaken(deleted, resource, name)? else {
            return Ok(None);
        };
        if resource.builtin_kind() == "Service" {
            self.release_service(&obj, None).await;
        }
        obj["metadata"]["resourceVersion"] = json!(gone.mod_revision.to_string());
        Ok(Some(Deleted::Gone(obj)))
    }

    /// The grace period of a delete: pods that may be running get theirs, all else 0.
    fn grace_period(&self, resource: &Resource, obj: &Value, opts: &DeleteOptions) -> i64 {
        if resource.builtin_kind() != "Pod" {
            return 0;
        }
        let scheduled = obj
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        let finished = matches!(
            obj.pointer("/status/phase").and_then(Value::as_str),
            Some("Succeeded" | "Failed")
        );
        if !scheduled || finished {
            return 0;
        }
        let spec_grace = obj
            .pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(30);
        // A grace period of 0 from a client means "now" (kubectl --grace-period=0 --force).
        opts.grace_period_seconds.unwrap_or(spec_grace).max(0)
    }
}
