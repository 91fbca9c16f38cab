//! Expectations, as Kubernetes' `UIDTrackingControllerExpectations`: after a ReplicaSet asks for
//! N pod creations (or for the deletion of given pods) it does not manage its replicas again
//! until the watch has shown all of them, so a stale cache never makes it create or delete
//! twice. Expectations left unmet for five minutes (a watch event lost for good) expire.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long unmet expectations hold before the ReplicaSet is managed again regardless.
const TIMEOUT: Duration = Duration::from_secs(5 * 60);

struct Expected {
    adds: i64,
    deletes: HashSet<String>,
    since: Instant,
}

/// Expectations per ReplicaSet key (`namespace/name`); pods by key too.
#[derive(Default)]
pub(crate) struct Expectations {
    inner: Mutex<HashMap<String, Expected>>,
}

impl Expectations {
    /// Whether the ReplicaSet may be managed: nothing is awaited, or the wait expired.
    pub fn satisfied(&self, key: &str) -> bool {
        let inner = self.inner.lock().expect("expectations lock");
        match inner.get(key) {
            None => true,
            Some(e) if e.adds <= 0 && e.deletes.is_empty() => true,
            Some(e) => {
                let expired = e.since.elapsed() > TIMEOUT;
                if expired {
                    tracing::info!(
                        replicaset = key,
                        adds = e.adds,
                        deletes = e.deletes.len(),
                        "expectations expired"
                    );
                }
                expired
            }
        }
    }

    /// About to create `n` pods.
    pub fn expect_creations(&self, key: &str, n: usize) {
        self.set(key, n as i64, HashSet::new());
    }

    /// About to delete these pods (`namespace/name`).
    pub fn expect_deletions(&self, key: &str, pods: HashSet<String>) {
        self.set(key, 0, pods);
    }

    fn set(&self, key: &str, adds: i64, deletes: HashSet<String>) {
        let mut inner = self.inner.lock().expect("expectations lock");
        inner.insert(
            key.to_string(),
            Expected {
                adds,
                deletes,
                since: Instant::now(),
            },
        );
    }

    /// A pod of the ReplicaSet appeared (or a creation failed, so none will).
    pub fn creation_observed(&self, key: &str) {
        let mut inner = self.inner.lock().expect("expectations lock");
        if let Some(e) = inner.get_mut(key) {
            e.adds -= 1;
        }
    }

    /// A pod of the ReplicaSet is going or gone (or its deletion failed).
    pub fn deletion_observed(&self, key: &str, pod: &str) {
        let mut inner = self.inner.lock().expect("expectations lock");
        if let Some(e) = inner.get_mut(key) {
            e.deletes.remove(pod);
        }
    }

    /// The ReplicaSet is gone.
    pub fn forget(&self, key: &str) {
        self.inner.lock().expect("expectations lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creations_and_deletions_are_awaited() {
        let e = Expectations::default();
        assert!(e.satisfied("ns/rs"));
        e.expect_creations("ns/rs", 2);
        assert!(!e.satisfied("ns/rs"));
        e.creation_observed("ns/rs");
        assert!(!e.satisfied("ns/rs"));
        e.creation_observed("ns/rs");
        assert!(e.satisfied("ns/rs"));
        e.expect_deletions(
            "ns/rs",
            HashSet::from(["ns/a".to_string(), "ns/b".to_string()]),
        );
        e.deletion_observed("ns/rs", "ns/a");
        e.deletion_observed("ns/rs", "ns/a");
        assert!(!e.satisfied("ns/rs"));
        e.deletion_observed("ns/rs", "ns/b");
        assert!(e.satisfied("ns/rs"));
        e.expect_creations("ns/rs", 1);
        e.forget("ns/rs");
        assert!(e.satisfied("ns/rs"));
    }
}
