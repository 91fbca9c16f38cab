//! The registry: create, read, update and delete of objects in the store, with the rules
//! every write goes through (defaulting, validation, metadata, generation, status split,
//! finalizers, graceful deletion). HTTP handlers and the server's own loops both use it.

mod allocate;
mod bind;
mod certificates;
mod create;
mod delete;
mod hooks;
mod read;
mod service_accounts;
mod splice;
mod update;

pub use bind::Binding;
pub use certificates::set_requester;
pub use delete::{DeleteOptions, Deleted};
pub(crate) use hooks::returns_deleted_object;
pub use read::{ListPage, ListQuery};
pub(crate) use splice::with_revision;

use bytes::Bytes;
use krust_api::cidr::Cidr;
use krust_api::resources::Resource;
use krust_api::status::ApiError;
use krust_store::{KeyValue, Revision, Store, WatchStream};
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

/// The part of an object a write changes, named by the subresource it comes through
/// (recorded as the `subresource` of its managedFields entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The object itself; its status stays as stored.
    Main,
    /// `/status`: the status (with labels and annotations); the rest stays as stored.
    Status,
    /// `/scale`: the main object's replicas.
    Scale,
    /// A namespace's `/finalize`: its `spec.finalizers`.
    Finalize,
    /// A pod's `/ephemeralcontainers`: its `spec.ephemeralContainers`, added to only.
    EphemeralContainers,
    /// A CertificateSigningRequest's `/approval`: its `status.conditions`.
    Approval,
}

impl Part {
    /// The subresource's name, `""` for the main resource.
    pub fn subresource(self) -> &'static str {
        match self {
            Part::Main => "",
            Part::Status => "status",
            Part::Scale => "scale",
            Part::Finalize => "finalize",
            Part::EphemeralContainers => "ephemeralcontainers",
            Part::Approval => "approval",
        }
    }
}

/// Kubernetes' default node port range (`--service-node-port-range`).
pub const NODE_PORTS: std::ops::RangeInclusive<u32> = 30000..=32767;

/// A node port range as kube-apiserver's `--service-node-port-range` takes it (`30000-32767`).
pub fn parse_node_ports(s: &str) -> anyhow::Result<std::ops::RangeInclusive<u32>> {
    let (low, high) = s
        .split_once('-')
        .ok_or_else(|| anyhow::anyhow!("{s:?}: not a port range such as 30000-32767"))?;
    let (low, high): (u32, u32) = (low.trim().parse()?, high.trim().parse()?);
    anyhow::ensure!(
        (1..=65535).contains(&low) && (low..=65535).contains(&high),
        "{s:?}: not a port range such as 30000-32767"
    );
    Ok(low..=high)
}

/// The registry over one store.
#[derive(Clone)]
pub struct Registry {
    store: Arc<dyn Store>,
    pub service_cidr: Cidr,
    /// The node ports Services get (kube-apiserver's `--service-node-port-range`).
    pub node_ports: std::ops::RangeInclusive<u32>,
    /// Whether the ServiceAccount admission plugin runs on pod creation (not when no
    /// controller makes the accounts it needs: `krust server --api-only`).
    pub service_account_admission: bool,
    /// The custom resources served (from the stored CustomResourceDefinitions).
    pub custom: Arc<crate::custom::CustomResources>,
}

impl Registry {
    /// A registry over `store`, allocating cluster IPs from `service_cidr` (`10.43.0.0/16`;
    /// its prefix is between /8 and /30).
    pub fn new(store: Arc<dyn Store>, service_cidr: &str) -> anyhow::Result<Self> {
        let service_cidr: Cidr = service_cidr.parse()?;
        anyhow::ensure!(
            (8..=30).contains(&service_cidr.prefix()),
            "{service_cidr}: prefix must be between /8 and /30"
        );
        Ok(Registry {
            store,
            service_cidr,
            node_ports: NODE_PORTS,
            service_account_admission: false,
            custom: Default::default(),
        })
    }

    /// The store's latest committed revision.
    pub fn revision(&self) -> Revision {
        self.store.revision()
    }

    /// Streams every change to keys under `prefix` with a revision greater than `after`,
    /// in revision order; `Compacted` when `after` is older than the store's window.
    pub fn watch(&self, prefix: &str, after: Revision) -> krust_store::Result<WatchStream> {
        self.store.watch(prefix, after)
    }
}

/// Records in `managedFields` which fields the write's manager set in `part`.
pub fn track_fields(
    resource: &Resource,
    old: Option<&Value>,
    obj: Value,
    part: Part,
    opts: &WriteOptions,
) -> Result<Value, ApiError> {
    let Some(manager) = &opts.field_manager else {
        return Ok(obj);
    };
    // A custom resource's fields are tracked without a definition: every map by key, every
    // list as a whole (what its schema's defaults mean to server-side apply).
    let definition = match resource.custom {
        Some(_) => "",
        None => {
            match krust_api::schema::definition_for(resource.group, resource.version, resource.kind)
            {
                Some(definition) => definition,
                None => return Ok(obj),
            }
        }
    };
    let manager = krust_api::patch::Manager {
        name: manager,
        subresource: part.subresource(),
    };
    krust_api::patch::update_managed_fields(old, obj, manager, definition, &krust_api::meta::now())
        .map_err(|e| ApiError::new(e.code(), e.reason(), e.to_string()))
}

/// Decodes a stored object, setting `metadata.resourceVersion` from its revision.
pub fn decode(kv: &KeyValue) -> Result<Value, ApiError> {
    let v = serde_json::from_slice(&kv.value).map_err(ApiError::internal)?;
    Ok(written(v, kv))
}

/// Encodes an object for the store (without `resourceVersion`, which the store assigns).
pub fn encode(obj: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(&Unversioned(obj)).unwrap_or_default())
}

/// An object as a write left it, with the bytes the store holds for it when they are exactly
/// that object (not after a dry run, nor for an object the write deleted): an answer can be
/// those bytes rather than the object encoded again.
pub struct Written {
    pub object: Value,
    pub stored: Option<KeyValue>,
}

impl Written {
    /// `obj`, stored at `kv`.
    fn stored(obj: Value, kv: KeyValue) -> Self {
        Written {
            object: written(obj, &kv),
            stored: Some(kv),
        }
    }

    /// `obj` with the `resourceVersion` of `kv`, whose bytes are not (or not exactly) it.
    fn unstored(obj: Value, kv: &KeyValue) -> Self {
        Written {
            object: written(obj, kv),
            stored: None,
        }
    }
}

/// `obj` as written at `kv`: its `resourceVersion` is the write's revision. What [`decode`]
/// of `kv` would give, without parsing back what was just encoded.
pub(crate) fn written(obj: Value, kv: &KeyValue) -> Value {
    at_revision(obj, kv.mod_revision)
}

/// `obj` with `metadata.resourceVersion` set to `rev`.
pub(crate) fn at_revision(mut obj: Value, rev: Revision) -> Value {
    krust_api::meta::metadata_mut(&mut obj)
        .insert("resourceVersion".into(), Value::String(rev.to_string()));
    obj
}

/// Whether `a` and `b` are the same object but for `metadata.resourceVersion`.
pub(crate) fn same_ignoring_version(a: &Value, b: &Value) -> bool {
    fn metadata(v: &Value) -> impl Iterator<Item = (&String, &Value)> {
        let m = v.get("metadata").and_then(Value::as_object).into_iter();
        m.flatten().filter(|(k, _)| *k != "resourceVersion")
    }
    let (Some(x), Some(y)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    x.len() == y.len()
        && x.iter().all(|(k, v)| match k.as_str() {
            "metadata" if v.is_object() => metadata(a).eq(metadata(b)),
            _ => Some(v) == y.get(k),
        })
}

/// Serializes an object without `metadata.resourceVersion`, without copying it.
struct Unversioned<'a>(&'a Value);

impl serde::Serialize for Unversioned<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Some(obj) = self.0.as_object() else {
            return self.0.serialize(s);
        };
        let mut map = s.serialize_map(Some(obj.len()))?;
        for (k, v) in obj {
            match v.as_object().filter(|_| k == "metadata") {
                Some(meta) => map.serialize_entry(k, &MetadataWithout(meta))?,
                None => map.serialize_entry(k, v)?,
            }
        }
        map.end()
    }
}

/// `metadata` without `resourceVersion`.
struct MetadataWithout<'a>(&'a serde_json::Map<String, Value>);

impl serde::Serialize for MetadataWithout<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().filter(|(k, _)| *k != "resourceVersion"))
    }
}

/// How often a write the caller did not make conditional is tried again when another
/// write comes between its read and its write (kube-apiserver retries without bound; a
/// bound keeps a pathological hot object from spinning a request forever).
const MAX_RETRIES: u32 = 64;

/// A conditional store write's outcome: `None` when another write came between the read
/// and this write (the caller reads again), other store errors as API errors.
fn unless_overtaken<T>(
    written: Result<T, krust_store::Error>,
    resource: &Resource,
    name: &str,
) -> Result<Option<T>, ApiError> {
    match written {
        Ok(v) => Ok(Some(v)),
        Err(krust_store::Error::Conflict { .. }) => Ok(None),
        Err(e) => Err(store_error(resource, name, e)),
    }
}

const MODIFIED: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

/// The 409 of a write whose object was modified since it was read (or kept being modified
/// through every retry).
fn conflict(resource: &Resource, name: &str) -> ApiError {
    ApiError::conflict(resource.group, resource.plural, name, MODIFIED)
}

/// Maps a store error about `name` of `resource` to an API error.
pub fn store_error(resource: &Resource, name: &str, e: krust_store::Error) -> ApiError {
    use krust_store::Error as E;
    match e {
        E::AlreadyExists(_) => ApiError::already_exists(resource.group, resource.plural, name),
        E::NotFound(_) => ApiError::not_found(resource.group, resource.plural, name),
        E::Conflict { .. } => conflict(resource, name),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(rv: &str, image: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "p", "resourceVersion": rv, "labels": {"a": "b"}},
               "spec": {"containers": [{"name": "c", "image": image}]}})
    }

    #[test]
    fn encode_leaves_out_the_resource_version_and_written_puts_it_back() {
        let obj = pod("7", "nginx");
        let bytes = encode(&obj);
        let stored: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            stored["metadata"],
            json!({"name": "p", "labels": {"a": "b"}})
        );
        assert_eq!(stored["spec"], obj["spec"]);
        let kv = KeyValue {
            key: "/registry/pods/default/p".into(),
            value: bytes,
            create_revision: 3,
            mod_revision: 9,
        };
        assert_eq!(written(obj.clone(), &kv), decode(&kv).unwrap());
        assert_eq!(decode(&kv).unwrap()["metadata"]["resourceVersion"], "9");
    }

    #[test]
    fn a_node_port_range_is_low_dash_high() {
        assert_eq!(parse_node_ports("30000-32767").unwrap(), 30000..=32767);
        assert_eq!(parse_node_ports("29000 - 29999").unwrap(), 29000..=29999);
        for bad in ["30000", "3-2", "0-10", "1-70000", "a-b"] {
            assert!(parse_node_ports(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_service_range_is_between_a_slash_8_and_a_slash_30() {
        let dir = tempfile::tempdir().unwrap();
        let store = krust_store::SqliteStore::open(&dir.path().join("state.db")).unwrap();
        let registry = |cidr: &str| Registry::new(store.clone(), cidr);
        assert_eq!(
            registry("10.43.7.0/16").unwrap().service_cidr.to_string(),
            "10.43.0.0/16"
        );
        for ok in ["10.0.0.0/8", "10.43.0.0/30"] {
            assert!(registry(ok).is_ok(), "{ok}");
        }
        for bad in ["10.0.0.0/7", "10.43.0.0/31", "10.43.0.0", "fd00::/108"] {
            assert!(registry(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn same_ignoring_version_compares_everything_else() {
        assert!(same_ignoring_version(
            &pod("1", "nginx"),
            &pod("2", "nginx")
        ));
        assert!(!same_ignoring_version(
            &pod("1", "nginx"),
            &pod("1", "httpd")
        ));
        let mut relabelled = pod("1", "nginx");
        relabelled["metadata"]["labels"]["a"] = json!("c");
        assert!(!same_ignoring_version(&pod("1", "nginx"), &relabelled));
        let mut extra = pod("1", "nginx");
        extra["status"] = json!({});
        assert!(!same_ignoring_version(&pod("1", "nginx"), &extra));
        assert!(!same_ignoring_version(&extra, &pod("1", "nginx")));
    }
}
