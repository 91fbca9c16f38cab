//! The scheduling loop: one task owns the cache and the queue, applies watch events and
//! binding outcomes between pods, and schedules pods one at a time while their bindings
//! proceed in the background.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use kube::runtime::watcher::Event;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::bind::{Binder, Bound};
use crate::cache::{Cache, NodeChange, NodeData};
use crate::condition::ConditionWriter;
use crate::events::Recorder;
use crate::filters::Plugin;
use crate::informers::Update;
use crate::podinfo::PodInfo;
use crate::queue::Queue;
use crate::schedule::{Algorithm, Decision};
use crate::view::{Namespace, Node, Pod};

/// Plugins that a deleted (or forgotten) pod may unblock: it frees resources, ports and
/// topology domains.
const POD_DELETED: u32 = Plugin::NodeResourcesFit as u32
    | Plugin::NodePorts as u32
    | Plugin::InterPodAffinity as u32
    | Plugin::PodTopologySpread as u32;
/// Plugins that a new or relabeled assigned pod may unblock.
const POD_ADDED: u32 = Plugin::InterPodAffinity as u32 | Plugin::PodTopologySpread as u32;
/// How often unschedulable pods are checked for `MAX_UNSCHEDULABLE`.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Pods scheduled between two yields to the runtime.
const YIELD_EVERY: u32 = 32;

/// Keys seen since a watch (re)started listing; what was not seen is gone.
#[derive(Default)]
struct Relist {
    nodes: Option<HashSet<String>>,
    pods: Option<HashSet<String>>,
    namespaces: Option<HashSet<String>>,
}

pub struct Scheduler {
    cache: Cache,
    queue: Queue,
    algorithm: Algorithm,
    binder: Binder,
    recorder: Recorder,
    conditions: ConditionWriter,
    relist: Relist,
    nodes_synced: bool,
    pods_synced: bool,
}

impl Scheduler {
    pub fn new(binder: Binder, recorder: Recorder, conditions: ConditionWriter) -> Self {
        Self {
            cache: Cache::default(),
            queue: Queue::default(),
            algorithm: Algorithm::default(),
            binder,
            recorder,
            conditions,
            relist: Relist::default(),
            nodes_synced: false,
            pods_synced: false,
        }
    }

    /// Runs until the watches stop.
    pub async fn run(
        mut self,
        mut updates: mpsc::Receiver<Update>,
        mut bound: mpsc::UnboundedReceiver<Bound>,
    ) -> anyhow::Result<()> {
        let mut next_flush = Instant::now() + FLUSH_EVERY;
        let mut scheduled = 0u32;
        loop {
            loop {
                match updates.try_recv() {
                    Ok(u) => self.apply(u),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        anyhow::bail!("the scheduler's watches stopped")
                    }
                }
            }
            while let Ok(b) = bound.try_recv() {
                self.bound(b);
            }
            let now = Instant::now();
            if now >= next_flush {
                self.queue.flush_unschedulable(now);
                next_flush = now + FLUSH_EVERY;
            }
            self.queue.flush_backoff(now);
            if self.nodes_synced
                && self.pods_synced
                && let Some(pod) = self.queue.pop()
            {
                self.schedule_one(pod).await;
                scheduled = scheduled.wrapping_add(1);
                if scheduled.is_multiple_of(YIELD_EVERY) {
                    tokio::task::yield_now().await;
                }
                continue;
            }
            let wake = self
                .queue
                .next_backoff()
                .map_or(next_flush, |b| b.min(next_flush));
            tokio::select! {
                u = updates.recv() => match u {
                    Some(u) => self.apply(u),
                    None => anyhow::bail!("the scheduler's watches stopped"),
                },
                Some(b) = bound.recv() => self.bound(b),
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    async fn schedule_one(&mut self, pod: Arc<PodInfo>) {
        match self.algorithm.schedule(&pod, &self.cache) {
            Decision::Bind(i) => {
                let node = self.cache.nodes()[i].name.clone();
                tracing::debug!(pod = %pod.key, %node, "assumed");
                self.cache.assume(pod.clone(), &node);
                self.binder.bind(pod, node).await;
            }
            Decision::Unschedulable { message, plugins } => {
                tracing::debug!(pod = %pod.key, %message, "unschedulable");
                self.queue.unschedulable(&pod.key, plugins, Instant::now());
                self.recorder.failed_scheduling(&pod, &message);
                self.conditions.unschedulable(&pod, &message);
            }
        }
    }

    fn bound(&mut self, b: Bound) {
        let (key, uid) = (&b.pod.key, &b.pod.uid);
        // The pod may have been replaced by another of the same name meanwhile.
        let queued = self.queue.holds(key, uid);
        let Err(e) = b.result else {
            if queued {
                self.queue.done(key);
            }
            return;
        };
        let now = Instant::now();
        if self.cache.forget(key, uid).is_some() {
            self.queue.move_unschedulable(POD_DELETED, now);
        }
        if !queued {
            return;
        }
        match &e {
            // Deleted, or bound by someone else: the watch tells the rest.
            kube::Error::Api(s) if s.code == 404 || s.code == 409 => {
                tracing::debug!(pod = %key, error = %e, "binding refused");
                self.queue.remove(key);
            }
            _ => {
                tracing::warn!(pod = %key, node = %b.node, error = %e, "binding failed");
                self.queue.backoff(key, now);
                let message = format!("running Bind plugin \"DefaultBinder\": {e}");
                self.recorder.failed_scheduling(&b.pod, &message);
            }
        }
    }

    fn apply(&mut self, update: Update) {
        match update {
            Update::Node(ev) => self.node_event(*ev),
            Update::Pod(ev) => self.pod_event(*ev),
            Update::Namespace(ev) => self.namespace_event(*ev),
        }
    }

    fn node_event(&mut self, ev: Event<Node>) {
        match ev {
            Event::Init => self.relist.nodes = Some(HashSet::new()),
            Event::InitApply(node) | Event::Apply(node) => {
                let name = node.metadata.name.clone().unwrap_or_default();
                if let Some(seen) = &mut self.relist.nodes {
                    seen.insert(name.clone());
                }
                let change = self.cache.set_node(&name, NodeData::new(&node));
                if change != NodeChange::Unchanged {
                    self.queue.move_unschedulable(u32::MAX, Instant::now());
                }
            }
            Event::Delete(node) => {
                self.cache
                    .remove_node(node.metadata.name.as_deref().unwrap_or_default());
            }
            Event::InitDone => {
                if let Some(seen) = self.relist.nodes.take() {
                    let gone: Vec<String> = self
                        .cache
                        .nodes()
                        .iter()
                        .filter(|n| n.node.is_some() && !seen.contains(&n.name))
                        .map(|n| n.name.clone())
                        .collect();
                    for name in gone {
                        self.cache.remove_node(&name);
                    }
                }
                self.nodes_synced = true;
            }
        }
    }

    fn pod_event(&mut self, ev: Event<Pod>) {
        match ev {
            Event::Init => self.relist.pods = Some(HashSet::new()),
            Event::InitApply(pod) | Event::Apply(pod) => {
                let info = Arc::new(PodInfo::new(&pod));
                if let Some(seen) = &mut self.relist.pods {
                    seen.insert(info.key.clone());
                }
                self.pod_changed(info);
            }
            Event::Delete(pod) => {
                let info = PodInfo::new(&pod);
                self.pod_gone(&info.key);
            }
            Event::InitDone => {
                if let Some(seen) = self.relist.pods.take() {
                    for key in self.cache.pod_keys(false) {
                        if !seen.contains(&key) {
                            self.pod_gone(&key);
                        }
                    }
                    for key in self.queue.keys() {
                        if !seen.contains(&key) && !self.cache.is_assumed(&key) {
                            self.queue.remove(&key);
                        }
                    }
                }
                self.pods_synced = true;
            }
        }
    }

    fn pod_changed(&mut self, info: Arc<PodInfo>) {
        let now = Instant::now();
        if info.terminal {
            self.pod_gone(&info.key);
        } else if !info.node_name.is_empty() {
            self.queue.remove(&info.key);
            let new = !self.cache.contains_pod(&info.key);
            self.cache.add_pod(info);
            if new {
                self.queue.move_unschedulable(POD_ADDED, now);
            }
        } else if info.terminating || !info.is_ours() {
            self.queue.remove(&info.key);
        } else {
            self.queue.add(info, now);
        }
    }

    fn pod_gone(&mut self, key: &str) {
        self.queue.remove(key);
        if self.cache.remove_pod(key).is_some() {
            self.queue.move_unschedulable(POD_DELETED, Instant::now());
        }
    }

    fn namespace_event(&mut self, ev: Event<Namespace>) {
        let changed = match ev {
            Event::Init => {
                self.relist.namespaces = Some(HashSet::new());
                false
            }
            Event::InitApply(ns) | Event::Apply(ns) => {
                let name = ns.metadata.name.clone().unwrap_or_default();
                if let Some(seen) = &mut self.relist.namespaces {
                    seen.insert(name.clone());
                }
                let labels = ns.metadata.labels.clone().unwrap_or_default();
                self.cache.namespaces.insert(name, labels.clone()) != Some(labels)
            }
            Event::Delete(ns) => {
                let name = ns.metadata.name.unwrap_or_default();
                self.cache.namespaces.remove(&name).is_some()
            }
            Event::InitDone => {
                if let Some(seen) = self.relist.namespaces.take() {
                    self.cache.namespaces.retain(|n, _| seen.contains(n));
                }
                false
            }
        };
        if changed {
            self.queue
                .move_unschedulable(Plugin::InterPodAffinity as u32, Instant::now());
        }
    }
}
