//! Pods bound to the real node: one watch (field selector `spec.nodeName`), one worker per
//! pod (`crate::pod_workers`). The workers are tasks of the watch: stopping the agent
//! (aborting the watch) aborts them before their senders drop, so a stopping agent never
//! takes itself for a forced deletion and leaves every container running. Sandboxes of pods
//! the API no longer has (deleted while the agent was down) are removed once the first list
//! is in. Every `resync::PERIOD`
//! the pods' configMap, secret, downwardAPI and projected volumes are rewritten.

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::watcher;
use tokio::task::JoinSet;

use super::Shared;
use super::resync;
use super::worker::Worker;
use crate::pod_workers::PodWorkers;

pub async fn watch(shared: Arc<Shared>) {
    let api: Api<Pod> = Api::all(shared.client.clone());
    let config = watcher::Config::default().fields(&format!("spec.nodeName={}", shared.name));
    let mut stream = super::watch::watch(api, config);
    let mut workers = PodWorkers::new();
    // Declared after `workers`, so dropped (every worker aborted) before the senders are.
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut orphans_checked = false;
    let mut resync = tokio::time::interval(resync::PERIOD);
    let mut resyncing: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        let event = tokio::select! {
            event = stream.next() => event,
            _ = resync.tick() => {
                if resyncing.as_ref().is_none_or(|t| t.is_finished()) {
                    let pods = workers.pods().filter(|p| resync::wanted(p)).collect();
                    resyncing = Some(tokio::spawn(resync::volumes(shared.clone(), pods)));
                }
                continue;
            }
        };
        let Some(event) = event else { break };
        while tasks.try_join_next().is_some() {}
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                tracing::debug!(error = %e, "watching pods");
                continue;
            }
        };
        let listed = workers.event(event, |workers, pod| {
            workers.update(pod, |rx| {
                let worker = Worker::new(shared.clone(), &rx.borrow());
                tasks.spawn(worker.run(rx));
            })
        });
        if let Some(listed) = listed.filter(|_| !orphans_checked) {
            orphans_checked = true;
            tokio::spawn(remove_orphans(shared.clone(), listed));
        }
    }
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
