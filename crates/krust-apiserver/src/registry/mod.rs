//! The registry: create, read, update and delete of objects in the store, with the rules
//! every write goes through (defaulting, validation, metadata, generation, status split,
//! finalizers, graceful deletion). HTTP handlers and the server's own loops both use it.

mod allocate;
mod bind;
mod create;
mod delete;
mod hooks;
mod read;
mod update;

pub use delete::{DeleteOptions, Deleted};
pub use read::{ListPage, ListQuery};

use bytes::Bytes;
use krust_api::resources::Resource;
use krust_api::status::ApiError;
use krust_store::{KeyValue, Store};
use serde_json::Value;
use std::sync::Arc;

/// Options of a write.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: everything but the store write.
    pub dry_run: bool,
    /// Who is writing (`fieldManager`, or derived from the user agent); `managedFields`
    /// record it. `None` leaves `managedFields` as given (server-side apply computes its own).
    pub field_manager: Option<String>,
}

/// The registry over one store.
#[derive(Clone)]
pub struct Registry {
    pub store: Arc<dyn Store>,
    pub service_cidr: allocate::Cidr,
}

impl Registry {
    /// A registry over `store`, allocating cluster IPs from `service_cidr` (`10.43.0.0/16`).
    pub fn new(store: Arc<dyn Store>, service_cidr: &str) -> anyhow::Result<Self> {
        Ok(Registry {
            store,
            service_cidr: service_cidr.parse()?,
        })
    }
}

/// Records in `managedFields` which fields `manager` set with this write.
pub fn track_fields(
    resource: &Resource,
    old: Option<&Value>,
    obj: Value,
    opts: &WriteOptions,
) -> Result<Value, ApiError> {
    let Some(manager) = &opts.field_manager else {
        return Ok(obj);
    };
    let Some(definition) =
        krust_api::schema::definition_for(resource.group, resource.version, resource.kind)
    else {
        return Ok(obj);
    };
    krust_api::patch::update_managed_fields(old, &obj, manager, definition, &krust_api::meta::now())
        .map_err(|e| ApiError::new(e.code(), e.reason(), e.to_string()))
}

/// Decodes a stored object, setting `metadata.resourceVersion` from its revision.
pub fn decode(kv: &KeyValue) -> Result<Value, ApiError> {
    let mut v: Value = serde_json::from_slice(&kv.value).map_err(ApiError::internal)?;
    krust_api::meta::metadata_mut(&mut v).insert(
        "resourceVersion".into(),
        Value::String(kv.mod_revision.to_string()),
    );
    Ok(v)
}

/// Encodes an object for the store (without `resourceVersion`, which the store assigns).
pub fn encode(obj: &Value) -> Bytes {
    let mut v = obj.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
    }
    Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
}

/// Maps a store error about `name` of `resource` to an API error.
pub fn store_error(resource: &Resource, name: &str, e: krust_store::Error) -> ApiError {
    use krust_store::Error as E;
    match e {
        E::AlreadyExists(_) => ApiError::already_exists(resource.group, resource.plural, name),
        E::NotFound(_) => ApiError::not_found(resource.group, resource.plural, name),
        E::Conflict { .. } => ApiError::conflict(
            resource.group,
            resource.plural,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        ),
        E::Compacted { requested, oldest } => {
            ApiError::expired(format!("too old resource version: {requested} ({oldest})"))
        }
        E::FutureRevision { requested, current } => {
            let mut e = ApiError::new(
                504,
                "Timeout",
                format!("Too large resource version: {requested}, current: {current}"),
            );
            e.retry_after = Some(1);
            e
        }
        E::Backend(msg) => ApiError::internal(msg),
    }
}
