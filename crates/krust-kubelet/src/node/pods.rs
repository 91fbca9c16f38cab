//! Pods bound to the real node: one watch (field selector `spec.nodeName`), one worker per
//! pod fed the pod's latest version through a `watch` channel; a pod gone from the API drops
//! its sender, which ends its worker. The workers are tasks of the watch: stopping the agent
//! (aborting the watch) aborts them before their senders drop, so a stopping agent never
//! takes itself for a forced deletion and leaves every container running. Sandboxes of pods the API no longer has (deleted
//! while the agent was down) are removed once the first list is in. Every `resync::PERIOD`
//! the pods' configMap, secret, downwardAPI and projected volumes are rewritten.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::Shared;
use super::resync;
use super::worker::Worker;

pub async fn watch(shared: Arc<Shared>) {
    let api: Api<Pod> = Api::all(shared.client.clone());
    let config = watcher::Config::default().fields(&format!("spec.nodeName={}", shared.name));
    let mut stream = watcher(api, config).default_backoff().boxed();
    let mut workers: HashMap<String, watch::Sender<Arc<Pod>>> = HashMap::new();
    // Declared after `workers`, so dropped (every worker aborted) before the senders are.
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut listed: Option<HashSet<String>> = None;
    let mut orphans_checked = false;
    let mut resync = tokio::time::interval(resync::PERIOD);
    let mut resyncing: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        let event = tokio::select! {
            event = stream.next() => event,
            _ = resync.tick() => {
                if resyncing.as_ref().is_none_or(|t| t.is_finished()) {
                    let pods: Vec<Arc<Pod>> = workers
                        .values()
                        .map(|tx| tx.borrow().clone())
                        .filter(|p| resync::wanted(p))
                        .collect();
                    resyncing = Some(tokio::spawn(resync::volumes(shared.clone(), pods)));
                }
                continue;
            }
        };
        let Some(event) = event else { break };
        while tasks.try_join_next().is_some() {}
        match event {
            Ok(watcher::Event::Init) => listed = Some(HashSet::new()),
            Ok(watcher::Event::InitApply(pod)) => {
                if let (Some(l), Some(uid)) = (&mut listed, &pod.metadata.uid) {
                    l.insert(uid.clone());
                }
                dispatch(&shared, &mut workers, &mut tasks, pod);
            }
            Ok(watcher::Event::InitDone) => {
                if let Some(l) = listed.take() {
                    workers.retain(|uid, _| l.contains(uid));
                    if !orphans_checked {
                        orphans_checked = true;
                        tokio::spawn(remove_orphans(shared.clone(), l));
                    }
                }
            }
            Ok(watcher::Event::Apply(pod)) => dispatch(&shared, &mut workers, &mut tasks, pod),
            Ok(watcher::Event::Delete(pod)) => {
                if let Some(uid) = &pod.metadata.uid {
                    workers.remove(uid);
                }
            }
            Err(e) => tracing::debug!(error = %e, "watching pods"),
        }
    }
}

fn dispatch(
    shared: &Arc<Shared>,
    workers: &mut HashMap<String, watch::Sender<Arc<Pod>>>,
    tasks: &mut JoinSet<()>,
    pod: Pod,
) {
    let Some(uid) = pod.metadata.uid.clone() else {
        return;
    };
    if let Some(tx) = workers.get(&uid) {
        tx.send_replace(Arc::new(pod));
        return;
    }
    let worker = Worker::new(shared.clone(), &pod);
    let (tx, rx) = watch::channel(Arc::new(pod));
    workers.insert(uid, tx);
    tasks.spawn(worker.run(rx));
}

/// Removes the sandboxes (and containers) of pods the API does not have.
async fn remove_orphans(shared: Arc<Shared>, pods: HashSet<String>) {
    let Ok(sandboxes) = shared.runtime.list_sandboxes().await else {
        return;
    };
    for sandbox in sandboxes {
        if pods.contains(&sandbox.spec.pod_uid) {
            continue;
        }
        tracing::info!(pod = %sandbox.spec.name, uid = %sandbox.spec.pod_uid, "removing the sandbox of a pod that is gone");
        if let Ok(network) = shared.network().await {
            let _ = network
                .detach(&sandbox.spec.pod_uid, sandbox.netns.as_deref())
                .await;
        }
        let _ = shared.runtime.remove_sandbox(&sandbox.id).await;
    }
}
