//! Store values decoded once for all the watchers of a resource: every watcher of pods sees
//! the same event, so each event's object is parsed, and encoded for the wire, once however
//! many watchers send it (kube-apiserver's watch cache serializes once per event likewise).

use crate::registry::decode;
use bytes::Bytes;
use krust_api::status::ApiError;
use krust_store::{KeyValue, Revision};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

/// How many recent values are kept. Watchers of one resource receive an event at nearly the
/// same time, so a short memory suffices.
const CAPACITY: usize = 1024;

/// One stored value, decoded (`resourceVersion` set), and its JSON once asked for.
pub struct Decoded {
    key: String,
    pub value: Value,
    json: OnceLock<Bytes>,
}

impl Decoded {
    /// The value as JSON.
    pub fn json(&self) -> &Bytes {
        self.json
            .get_or_init(|| Bytes::from(serde_json::to_vec(&self.value).unwrap_or_default()))
    }
}

/// Recently decoded values by revision (a revision names one write of one key).
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
    /// `kv` decoded, from the cache when another watcher decoded it already.
    pub fn decode(&self, kv: &KeyValue) -> Result<Arc<Decoded>, ApiError> {
        let cached = self.lock().by_revision.get(&kv.mod_revision).cloned();
        if let Some(d) = cached.filter(|d| d.key == kv.key) {
            return Ok(d);
        }
        let decoded = Arc::new(Decoded {
            key: kv.key.clone(),
            value: decode(kv)?,
            json: OnceLock::new(),
        });
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

    fn kv(key: &str, rev: Revision, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Bytes::from(value.to_string()),
            create_revision: 1,
            mod_revision: rev,
        }
    }

    #[test]
    fn one_decode_per_revision_and_key() {
        let cache = WatchCache::default();
        let a = cache
            .decode(&kv("/a", 5, r#"{"metadata":{"name":"a"}}"#))
            .unwrap();
        let again = cache
            .decode(&kv("/a", 5, r#"{"metadata":{"name":"a"}}"#))
            .unwrap();
        assert!(Arc::ptr_eq(&a, &again));
        assert_eq!(a.value["metadata"]["resourceVersion"], "5");
        assert_eq!(
            a.json().as_ref(),
            br#"{"metadata":{"name":"a","resourceVersion":"5"}}"#
        );
        let other = cache
            .decode(&kv("/b", 5, r#"{"metadata":{"name":"b"}}"#))
            .unwrap();
        assert_eq!(
            other.value["metadata"]["name"], "b",
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
