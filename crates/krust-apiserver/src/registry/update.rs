//! Update (PUT), and the read-modify-write loop patches use.

use super::{
    MAX_RETRIES, Part, Registry, WriteOptions, Written, conflict, decode, encode, hooks,
    same_ignoring_version, store_error, unless_overtaken,
};
use krust_api::resources::Resource;
use krust_api::status::ApiError;
use krust_api::{defaults, meta, validation};
use krust_store::KeyValue;
use serde_json::{Value, json};

/// Kinds that PUT may create (as in Kubernetes' `AllowCreateOnUpdate`).
fn create_on_update(resource: &Resource) -> bool {
    matches!(resource.builtin_kind(), "Endpoints" | "Event" | "Lease")
}

/// A replacement must be an object, and may not rename the one it replaces.
fn check_body(obj: &Value, name: &str) -> Result<(), ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be an object",
        ));
    }
    let body_name = meta::name(obj);
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    Ok(())
}

impl Registry {
    /// Replaces an object (or its `part`). Returns the stored object and whether it was
    /// created. A body without `resourceVersion` replaces whatever is stored, as in
    /// Kubernetes: the write is retried when another one comes in between.
    pub async fn update(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        mut obj: Value,
        part: Part,
        opts: &WriteOptions,
    ) -> Result<(Written, bool), ApiError> {
        check_body(&obj, name)?;
        if create_on_update(resource) {
            let key = resource.key(namespace, name);
            let stored = self.store.get(&key).await;
            if stored
                .map_err(|e| store_error(resource, name, e))?
                .is_none()
            {
                meta::metadata_mut(&mut obj).insert("name".into(), json!(name));
                match self.create(resource, namespace, obj.clone(), opts).await {
                    // Created by another write in the meantime: replace it.
                    Err(e) if e.reason == "AlreadyExists" => {}
                    other => return Ok((other?, true)),
                }
            }
        }
        let written = self
            .read_modify_write(resource, namespace, name, part, opts, |_| Ok(obj.clone()))
            .await?;
        Ok((written, false))
    }

    /// Reads the object, makes the next one with `change` and writes it (`part` of it)
    /// back. The registry alone owns `resourceVersion`: when the next object names one, it
    /// is a precondition (409 unless it is the one read); a write that comes in between is
    /// retried over from a fresh read, as kube-apiserver's `GuaranteedUpdate` does, so an
    /// object without one (a PUT without it, a patch that does not name it) always lands.
    pub async fn read_modify_write<F>(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        part: Part,
        opts: &WriteOptions,
        mut change: F,
    ) -> Result<Written, ApiError>
    where
        F: FnMut(&Value) -> Result<Value, ApiError>,
    {
        let key = resource.key(namespace, name);
        for _ in 0..=MAX_RETRIES {
            let current = self
                .store
                .get(&key)
                .await
                .map_err(|e| store_error(resource, name, e))?
                .ok_or_else(|| ApiError::not_found(resource.group, resource.plural, name))?;
            let old = decode(&current)?;
            let next = change(&old)?;
            check_body(&next, name)?;
            let read = current.mod_revision;
            let expected = match meta::meta_str(&next, "resourceVersion").filter(|v| !v.is_empty())
            {
                Some(rv) => rv.parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version: {rv:?}"))
                })?,
                None => read,
            };
            if expected != read {
                return Err(conflict(resource, name));
            }
            // Overtaken: read again (a resourceVersion the caller gave no longer matches then).
            if let Some(written) = self
                .replace(resource, namespace, name, next, (current, old), part, opts)
                .await?
            {
                return Ok(written);
            }
        }
        Err(conflict(resource, name))
    }

    /// Replaces `current` (as stored, and decoded) by `obj`; `None` when the store no longer
    /// holds `current` (another write came in between).
    #[allow(clippy::too_many_arguments)]
    async fn replace(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        mut obj: Value,
        (current, old): (KeyValue, Value),
        part: Part,
        opts: &WriteOptions,
    ) -> Result<Option<Written>, ApiError> {
        let key = &current.key;
        let expected = current.mod_revision;
        // A uid in the body is a precondition: it must name the stored object.
        let stored_uid = meta::meta_str(&old, "uid").unwrap_or("");
        if let Some(uid) = meta::meta_str(&obj, "uid").filter(|u| !u.is_empty() && *u != stored_uid)
        {
            let why = format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {stored_uid}"
            );
            return Err(ApiError::conflict(
                resource.group,
                resource.plural,
                name,
                &why,
            ));
        }
        obj["apiVersion"] = json!(resource.storage_api_version());
        obj["kind"] = json!(resource.kind);
        let m = meta::metadata_mut(&mut obj);
        m.insert("name".into(), json!(name));
        match namespace {
            Some(ns) if resource.namespaced => m.insert("namespace".into(), json!(ns)),
            _ => m.remove("namespace"),
        };
        hooks::prepare_update(resource, &mut obj, &old, part);
        if resource.builtin_kind() == "CustomResourceDefinition" && part == Part::Main {
            obj["status"] = self.definition_status(&obj);
        }
        defaults::on_write(resource.builtin_kind(), &mut obj);
        if part == Part::EphemeralContainers {
            validation::validate_ephemeral_containers(resource, &obj, &old)?;
        } else {
            validation::validate(resource, &obj, Some(&old))?;
        }
        let obj = super::track_fields(resource, Some(&old), obj, part, opts)?;
        if opts.dry_run {
            return Ok(Some(Written::unstored(obj, &current)));
        }
        if same_ignoring_version(&obj, &old) {
            return Ok(Some(Written::stored(obj, current)));
        }
        // The last finalizer removed from an object being deleted: it goes now.
        let namespace_finalizers = obj
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty())
            && resource.builtin_kind() == "Namespace";
        if meta::is_terminating(&obj)
            && meta::finalizers(&obj).is_empty()
            && !namespace_finalizers
            && !self.waits_for_kubelet(&obj)
        {
            let deleted = self.store.delete(key, Some(expected)).await;
            let Some(kv) = unless_overtaken(deleted, resource, name)? else {
                return Ok(None);
            };
            if resource.builtin_kind() == "Service" {
                self.release_service(&obj, None).await;
            }
            return Ok(Some(Written::unstored(obj, &kv)));
        }
        let mut obj = obj;
        let owner = format!("{}/{name}", namespace.unwrap_or(""));
        let claims = match resource.builtin_kind() {
            "Service" => self.allocate_service(&mut obj, Some(&old), &owner).await?,
            _ => Default::default(),
        };
        let updated = self.store.update(key, encode(&obj), expected).await;
        match unless_overtaken(updated, resource, name) {
            Ok(Some(kv)) => {
                if resource.builtin_kind() == "Service" {
                    self.release_service(&old, Some(&obj)).await;
                }
                Ok(Some(Written::stored(obj, kv)))
            }
            not_written => {
                self.unclaim(claims).await;
                not_written.map(|_| None)
            }
        }
    }

    /// A pod with a deletion grace period waits for its kubelet to confirm the end.
    fn waits_for_kubelet(&self, obj: &Value) -> bool {
        obj["kind"] == "Pod"
            && obj
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                > 0
    }
}
