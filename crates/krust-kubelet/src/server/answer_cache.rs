//! Answers kept for a while, as the kubelet's webhook authenticator and authorizer keep
//! TokenReview and SubjectAccessReview answers (apiserver's `pkg/util/cache` LRU with
//! per-answer lifetimes), so that a stream of requests costs one review per lifetime.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many answers are kept before expired ones are dropped (the kubelet's caches hold 1,024
/// and 10,000).
const SWEEP_AT: usize = 4096;

/// Answers by key, each until its own expiry.
pub struct AnswerCache<V> {
    entries: Mutex<HashMap<String, (V, Instant)>>,
}

impl<V> Default for AnswerCache<V> {
    fn default() -> Self {
        AnswerCache {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<V: Clone> AnswerCache<V> {
    /// The answer for `key` if it is still fresh at `now`.
    pub fn get(&self, key: &str, now: Instant) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(_, until)| now < *until)
            .map(|(v, _)| v.clone())
    }

    /// Keeps `value` for `key` during `ttl` from `now`.
    pub fn put(&self, key: String, value: V, now: Instant, ttl: Duration) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= SWEEP_AT {
            entries.retain(|_, (_, until)| now < *until);
            if entries.len() >= SWEEP_AT {
                entries.clear();
            }
        }
        entries.insert(key, (value, now + ttl));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_lives_for_its_own_lifetime() {
        let cache = AnswerCache::default();
        let t0 = Instant::now();
        cache.put("yes".into(), true, t0, Duration::from_secs(300));
        cache.put("no".into(), false, t0, Duration::from_secs(30));
        let later = t0 + Duration::from_secs(31);
        assert_eq!(cache.get("yes", later), Some(true));
        assert_eq!(cache.get("no", later), None);
        assert_eq!(cache.get("no", t0 + Duration::from_secs(29)), Some(false));
        assert_eq!(cache.get("unknown", t0), None);
    }

    #[test]
    fn a_full_cache_drops_expired_answers_first() {
        let cache = AnswerCache::default();
        let t0 = Instant::now();
        for i in 0..SWEEP_AT {
            cache.put(format!("old{i}"), i, t0, Duration::from_secs(1));
        }
        let later = t0 + Duration::from_secs(2);
        cache.put("new".into(), 1, later, Duration::from_secs(1));
        assert_eq!(cache.entries.lock().unwrap().len(), 1);
        assert_eq!(cache.get("new", later), Some(1));
    }
}
