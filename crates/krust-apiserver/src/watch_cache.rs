//! Store values prepared once for all the watchers of a resource: every watcher of pods sees
//! the same event, so each event's object is parsed, and encoded for the wire, once however
//! many watchers send it (kube-apiserver's watch cache serializes once per event likewise).
//!
//! The JSON to send is made at once (the stored bytes with `resourceVersion` spliced in, never
//! parsed into a tree); the other forms only when a watcher first needs them: what selectors
//! are matched against, and the whole object (for Tables, metadata-only watches and
//! conversion to another version). The answer to a write (or a GET) in plain JSON is the same
//! bytes, taken from here too: a write is prepared once for its writer and all its watchers.

use crate::registry::{decode, with_revision};
use bytes::Bytes;
use krust_api::status::ApiError;
use krust_store::{KeyValue, Revision};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

/// How many recent values are kept. Watchers of one resource receive an event at nearly the
/// same time, so a short memory suffices.
const CAPACITY: usize = 1024;

/// One stored value and the forms watchers need of it.
pub struct Decoded {
    kv: KeyValue,
    json: Bytes,
    selectable: OnceLock<Value>,
    value: OnceLock<Value>,
}

impl Decoded {
    /// Fails on what does not parse: now, rather than in the middle of sending.
    fn new(kv: &KeyValue) -> Result<Self, ApiError> {
        Ok(Decoded {
            json: with_revision(&kv.value, kv.mod_revision)?,
            kv: kv.clone(),
            selectable: OnceLock::new(),
            value: OnceLock::new(),
        })
    }

    /// The object as JSON, `resourceVersion` included.
    pub fn json(&self) -> &Bytes {
        &self.json
    }

    /// The object as JSON at revision `rev` (an object leaving a selection is sent as it
    /// was, at the revision of the change).
    pub fn json_at(&self, rev: Revision) -> Bytes {
        with_revision(&self.kv.value, rev).expect("checked when decoded")
    }

    /// The object without `metadata.managedFields`, `resourceVersion` included: what label
    /// and field selectors read.
    pub fn selectable(&self) -> &Value {
        self.selectable.get_or_init(|| {
            let rv = self.kv.mod_revision.to_string();
            crate::selectable::selectable(&self.kv.value, &rv).unwrap_or(Value::Null)
        })
    }

    /// The revision of the write that stored it.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }

    /// The object with only its `metadata` (`resourceVersion` at revision `rev`), decoded
    /// from the stored bytes each time: what metadata-only watchers are sent (the garbage
    /// collector watches every resource so), without the whole object staying decoded here
    /// for as long as the value is cached.
    pub fn metadata_at(&self, rev: Revision) -> Value {
        #[derive(serde::Deserialize)]
        struct Metadata {
            #[serde(default)]
            metadata: Value,
        }
        let metadata = serde_json::from_slice::<Metadata>(&self.kv.value)
            .map(|m| m.metadata)
            .unwrap_or(Value::Null);
        crate::registry::at_revision(serde_json::json!({ "metadata": metadata }), rev)
    }

    /// The whole object, `resourceVersion` included.
    pub fn value(&self) -> &Value {
        self.value
            .get_or_init(|| decode(&self.kv).unwrap_or(Value::Null))
    }
}

/// Recently prepared values by revision (a revision names one write of one key).
#[derive(Default)]
pub struct WatchCache {
    recent: Mutex<Recent>,
}

#[derive(Default)]
struct Recent {
    by_revision: HashMap<Revision, Arc<Decoded>>,
    order: VecDeque<Revision>,
}

impl WatchCache {
    /// `kv` prepared for watchers, from the cache when another watcher had it already.
    pub fn decode(&self, kv: &KeyValue) -> Result<Arc<Decoded>, ApiError> {
        let cached = self.lock().by_revision.get(&kv.mod_revision).cloned();
        if let Some(d) = cached.filter(|d| d.kv.key == kv.key) {
            return Ok(d);
        }
        let decoded = Arc::new(Decoded::new(kv)?);
        let mut recent = self.lock();
        if recent
            .by_revision
            .insert(kv.mod_revision, decoded.clone())
            .is_none()
        {
            recent.order.push_back(kv.mod_revision);
        }
        while recent.order.len() > CAPACITY {
            let oldest = recent.order.pop_front().expect("not empty");
            recent.by_revision.remove(&oldest);
        }
        Ok(decoded)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kv(key: &str, rev: Revision, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Bytes::from(value.to_string()),
            create_revision: 1,
            mod_revision: rev,
        }
    }

    const POD: &str = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"labels":{"app":"x"},"managedFields":[{"manager":"m"}],"name":"a"},"spec":{"nodeName":"n1"}}"#;

    #[test]
    fn the_json_sent_is_the_decoded_object() {
        for stored in [
            POD,
            r#"{"kind":"X","metadata":{}}"#,
            r#"{"kind":"X"}"#,
            r#"{"a":"\"metadata\":{","metadata":{"name":"q\"}"}}"#,
        ] {
            let d = Decoded::new(&kv("/a", 7, stored)).unwrap();
            let sent: Value = serde_json::from_slice(d.json()).unwrap();
            assert_eq!(sent, decode(&kv("/a", 7, stored)).unwrap(), "{stored}");
            assert_eq!(&sent, d.value());
            let earlier: Value = serde_json::from_slice(&d.json_at(9)).unwrap();
            assert_eq!(earlier["metadata"]["resourceVersion"], "9");
        }
    }

    #[test]
    fn selectors_read_the_object_without_managed_fields() {
        let d = Decoded::new(&kv("/a", 7, POD)).unwrap();
        let mut want = decode(&kv("/a", 7, POD)).unwrap();
        want["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("managedFields");
        assert_eq!(d.selectable(), &want);
        assert_eq!(
            want["metadata"],
            json!({"labels": {"app": "x"}, "name": "a", "resourceVersion": "7"})
        );
    }

    #[test]
    fn what_does_not_parse_is_an_error() {
        assert!(Decoded::new(&kv("/a", 7, "{not json")).is_err());
    }

    #[test]
    fn one_value_per_revision_and_key() {
        let cache = WatchCache::default();
        let a = cache
            .decode(&kv("/a", 5, r#"{"metadata":{"name":"a"}}"#))
            .unwrap();
        let again = cache
            .decode(&kv("/a", 5, r#"{"metadata":{"name":"a"}}"#))
            .unwrap();
        assert!(Arc::ptr_eq(&a, &again));
        assert_eq!(
            a.json().as_ref(),
            br#"{"metadata":{"resourceVersion":"5","name":"a"}}"#
        );
        let other = cache
            .decode(&kv("/b", 5, r#"{"metadata":{"name":"b"}}"#))
            .unwrap();
        assert_eq!(
            other.value()["metadata"]["name"],
            "b",
            "a key mismatch decodes afresh"
        );
    }

    #[test]
    fn forgets_the_oldest_beyond_capacity() {
        let cache = WatchCache::default();
        let first = cache.decode(&kv("/k", 1, "{}")).unwrap();
        for rev in 2..=(CAPACITY as Revision + 1) {
            cache.decode(&kv("/k", rev, "{}")).unwrap();
        }
        assert_eq!(cache.lock().by_revision.len(), CAPACITY);
        assert!(!Arc::ptr_eq(
            &first,
            &cache.decode(&kv("/k", 1, "{}")).unwrap()
        ));
    }
}
