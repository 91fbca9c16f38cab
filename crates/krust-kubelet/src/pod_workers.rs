//! One worker per pod, fed the pod's latest version (the kubelet's `pod_workers.go`), for sim
//! and real nodes: a pod watcher's events become sends on per-pod `watch` channels; a pod
//! gone from the API (deleted, or missing from a relist) drops its sender, which ends its
//! worker.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use kube::Resource;
use kube::runtime::watcher;
use tokio::sync::watch;

/// What a worker reads: always the pod's latest version.
pub type Latest<P> = watch::Receiver<Arc<P>>;

/// The workers of the pods a watcher reports, by UID.
pub struct PodWorkers<P> {
    senders: HashMap<String, watch::Sender<Arc<P>>>,
    /// The UIDs seen so far in a relist that has not finished.
    listing: Option<HashSet<String>>,
}

impl<P: Resource> PodWorkers<P> {
    pub fn new() -> Self {
        PodWorkers {
            senders: HashMap::new(),
            listing: None,
        }
    }

    /// Applies one watcher event. `apply` gets each pod added or changed and calls
    /// [`update`](Self::update) or [`remove`](Self::remove). At the end of a relist, the
    /// workers of pods it did not list are ended and its UIDs returned.
    pub fn event(
        &mut self,
        event: watcher::Event<P>,
        mut apply: impl FnMut(&mut Self, P),
    ) -> Option<HashSet<String>> {
        match event {
            watcher::Event::Init => self.listing = Some(HashSet::new()),
            watcher::Event::InitApply(pod) => {
                if let (Some(l), Some(uid)) = (&mut self.listing, &pod.meta().uid) {
                    l.insert(uid.clone());
                }
                apply(self, pod);
            }
            watcher::Event::InitDone => {
                let listed = self.listing.take()?;
                self.senders.retain(|uid, _| listed.contains(uid));
                return Some(listed);
            }
            watcher::Event::Apply(pod) => apply(self, pod),
            watcher::Event::Delete(pod) => {
                if let Some(uid) = &pod.meta().uid {
                    self.remove(uid);
                }
            }
        }
        None
    }

    /// Sends `pod` to its worker, or starts one with `start` (given the worker's receiver).
    pub fn update(&mut self, pod: P, start: impl FnOnce(Latest<P>)) {
        let Some(uid) = pod.meta().uid.clone() else {
            return;
        };
        if let Some(tx) = self.senders.get(&uid) {
            tx.send_replace(Arc::new(pod));
            return;
        }
        let (tx, rx) = watch::channel(Arc::new(pod));
        self.senders.insert(uid, tx);
        start(rx);
    }

    /// Ends the worker of the pod with this UID.
    pub fn remove(&mut self, uid: &str) {
        self.senders.remove(uid);
    }

    /// Every worker's pod, latest version.
    pub fn pods(&self) -> impl Iterator<Item = Arc<P>> + '_ {
        self.senders.values().map(|tx| tx.borrow().clone())
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Pod;

    use super::*;

    fn pod(uid: &str, generation: i64) -> Pod {
        let mut p = Pod::default();
        p.metadata.uid = Some(uid.into());
        p.metadata.generation = Some(generation);
        p
    }

    #[tokio::test]
    async fn a_pod_gets_one_worker_that_sees_its_latest_version_until_it_is_deleted() {
        let mut workers = PodWorkers::new();
        let mut started = Vec::new();
        let mut apply = |w: &mut PodWorkers<Pod>, p: Pod| w.update(p, |rx| started.push(rx));
        workers.event(watcher::Event::Apply(pod("a", 1)), &mut apply);
        workers.event(watcher::Event::Apply(pod("a", 2)), &mut apply);
        assert_eq!(started.len(), 1);
        assert_eq!(started[0].borrow_and_update().metadata.generation, Some(2));
        workers.event(watcher::Event::Delete(pod("a", 2)), |_, _| {});
        assert!(
            started[0].changed().await.is_err(),
            "the worker's sender is dropped"
        );
    }

    #[test]
    fn a_relist_ends_the_workers_of_pods_it_no_longer_lists_and_returns_those_it_does() {
        let mut workers = PodWorkers::new();
        let mut apply = |w: &mut PodWorkers<Pod>, p: Pod| w.update(p, |_| {});
        workers.event(watcher::Event::Apply(pod("gone", 1)), &mut apply);
        workers.event(watcher::Event::Init, &mut apply);
        workers.event(watcher::Event::InitApply(pod("kept", 1)), &mut apply);
        let listed = workers.event(watcher::Event::InitDone, &mut apply);
        assert_eq!(listed, Some(HashSet::from(["kept".to_string()])));
        let uids: Vec<_> = workers.pods().map(|p| p.metadata.uid.clone()).collect();
        assert_eq!(uids, vec![Some("kept".to_string())]);
    }
}
