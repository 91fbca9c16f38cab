//! The ReplicaSet controller against an in-process API server (no scheduler, no kubelet: tests
//! make pods ready by writing their status themselves).

use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Event, Pod};
use krust_controllers::informers::Informers;
use krust_testkit::{Spawned, eventually, spawn};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn replicaset(name: &str, replicas: i32) -> ReplicaSet {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "tier": "web"}, "annotations": {"note": "x"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }))
    .unwrap()
}

struct Env {
    _server: krust_testkit::TestServer,
    client: Client,
    _controller: Spawned,
}

async fn start() -> Env {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let controller = spawn(
        "replicaset",
        krust_controllers::replicaset::run(Informers::new(client.clone())),
    );
    Env {
        _server: server,
        client,
        _controller: controller,
    }
}

/// The live (not terminating) pods a ReplicaSet controls.
async fn owned_pods(client: &Client, rs: &ReplicaSet) -> Vec<Pod> {
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let uid = rs.uid().unwrap();
    pods.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            p.owner_references()
                .iter()
                .any(|o| o.uid == uid && o.controller == Some(true))
        })
        .collect()
}

async fn set_ready(client: &Client, pod: &str) {
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let status = json!({"status": {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
    }});
    pods.patch_status(pod, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

async fn rs_status(api: &Api<ReplicaSet>, name: &str) -> serde_json::Value {
    serde_json::to_value(api.get(name).await.unwrap().status).unwrap()
}

#[tokio::test]
async fn creates_pods_with_owner_references_and_events() {
    let env = start().await;
    let api: Api<ReplicaSet> = Api::default_namespaced(env.client.clone());
    let rs = api
        .create(&PostParams::default(), &replicaset("web", 3))
        .await
        .unwrap();
    let pods = eventually(WAIT, "3 pods", || async {
        let pods = owned_pods(&env.client, &rs).await;
        (pods.len() == 3).then_some(pods)
    })
    .await;
    for pod in &pods {
        assert!(pod.name_any().starts_with("web-"), "{}", pod.name_any());
        let owner = &pod.owner_references()[0];
        assert_eq!(owner.kind, "ReplicaSet");
        assert_eq!(owner.name, "web");
        assert_eq!(owner.block_owner_deletion, Some(true));
        let labels = pod.labels();
        assert_eq!(labels.get("app").map(String::as_str), Some("web"));
        assert_eq!(labels.get("tier").map(String::as_str), Some("web"));
        assert_eq!(pod.annotations().get("note").map(String::as_str), Some("x"));
    }
    eventually(WAIT, "status", || async {
        let s = rs_status(&api, "web").await;
        (s["replicas"] == 3 && s["fullyLabeledReplicas"] == 3 && s["observedGeneration"] == 1)
            .then_some(())
    })
    .await;
    let events: Api<Event> = Api::default_namespaced(env.client.clone());
    let messages = eventually(WAIT, "SuccessfulCreate events", || async {
        let messages: BTreeSet<String> = events
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some("web"))
            .filter(|e| e.reason.as_deref() == Some("SuccessfulCreate"))
            .inspect(|e| {
                assert_eq!(e.involved_object.kind.as_deref(), Some("ReplicaSet"));
                assert_eq!(
                    e.source.as_ref().and_then(|s| s.component.as_deref()),
                    Some("replicaset-controller")
                );
                assert_eq!(e.type_.as_deref(), Some("Normal"));
                assert_eq!(e.count, Some(1));
            })
            .filter_map(|e| e.message)
            .collect();
        (messages.len() == 3).then_some(messages)
    })
    .await;
    let want: BTreeSet<String> = pods
        .iter()
        .map(|p| format!("Created pod: {}", p.name_any()))
        .collect();
    assert_eq!(messages, want);
}

#[tokio::test]
async fn ready_and_available_counts_honour_min_ready_seconds() {
    let env = start().await;
    let api: Api<ReplicaSet> = Api::default_namespaced(env.client.clone());
    let mut rs = replicaset("slow", 2);
    rs.spec.as_mut().unwrap().min_ready_seconds = Some(2);
    let rs = api.create(&PostParams::default(), &rs).await.unwrap();
    let pods = eventually(WAIT, "2 pods", || async {
        let pods = owned_pods(&env.client, &rs).await;
        (pods.len() == 2).then_some(pods)
    })
    .await;
    for p in &pods {
        set_ready(&env.client, &p.name_any()).await;
    }
    eventually(WAIT, "ready, not yet available", || async {
        let s = rs_status(&api, "slow").await;
        (s["readyReplicas"] == 2 && s["availableReplicas"] == 0).then_some(())
    })
    .await;
    eventually(WAIT, "available after minReadySeconds", || async {
        let s = rs_status(&api, "slow").await;
        (s["availableReplicas"] == 2).then_some(())
    })
    .await;
}

#[tokio::test]
async fn scaling_down_deletes_not_ready_pods_first() {
    let env = start().await;
    let api: Api<ReplicaSet> = Api::default_namespaced(env.client.clone());
    let rs = api
        .create(&PostParams::default(), &replicaset("down", 4))
        .await
        .unwrap();
    let pods = eventually(WAIT, "4 pods", || async {
        let pods = owned_pods(&env.client, &rs).await;
        (pods.len() == 4).then_some(pods)
    })
    .await;
    let ready: BTreeSet<String> = pods.iter().take(2).map(|p| p.name_any()).collect();
    for name in &ready {
        set_ready(&env.client, name).await;
    }
    eventually(WAIT, "2 ready", || async {
        (rs_status(&api, "down").await["readyReplicas"] == 2).then_some(())
    })
    .await;
    api.patch(
        "down",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"replicas": 2}})),
    )
    .await
    .unwrap();
    let left = eventually(WAIT, "2 pods left", || async {
        let pods = owned_pods(&env.client, &rs).await;
        (pods.len() == 2).then_some(pods)
    })
    .await;
    let left: BTreeSet<String> = left.iter().map(|p| p.name_any()).collect();
    assert_eq!(left, ready, "the not-ready pods went first");
    eventually(WAIT, "status of 2", || async {
        let s = rs_status(&api, "down").await;
        (s["replicas"] == 2 && s["observedGeneration"] == 2).then_some(())
    })
    .await;
    let events: Api<Event> = Api::default_namespaced(env.client.clone());
    eventually(WAIT, "SuccessfulDelete events", || async {
        let n = events
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .filter(|e| e.reason.as_deref() == Some("SuccessfulDelete"))
            .filter(|e| {
                e.message
                    .as_deref()
                    .is_some_and(|m| m.starts_with("Deleted pod: down-"))
            })
            .count();
        (n == 2).then_some(())
    })
    .await;
}

/// Scaling up by hundreds takes several slow-start batches and status writes while the pod
/// watch trails the creates: expectations must keep the controller from creating more.
#[tokio::test]
async fn never_over_creates_in_a_burst() {
    let env = start().await;
    let api: Api<ReplicaSet> = Api::default_namespaced(env.client.clone());
    let pods_api: Api<Pod> = Api::default_namespaced(env.client.clone());
    let rs = api
        .create(&PostParams::default(), &replicaset("burst", 250))
        .await
        .unwrap();
    let mut max = 0;
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut settled = 0;
    // Poll until the count has held at 250 for a while.
    while settled < 20 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never settled at 250"
        );
        let n = pods_api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len();
        max = max.max(n);
        settled = if n == 250 { settled + 1 } else { 0 };
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(max, 250, "created more pods than asked for");
    assert_eq!(owned_pods(&env.client, &rs).await.len(), 250);
}

/// Watches the ReplicaSet's pods while the test churns them; the controller must never hold
/// more live pods than asked for.
#[tokio::test]
async fn never_over_creates_under_churn() {
    let env = start().await;
    let api: Api<ReplicaSet> = Api::default_namespaced(env.client.clone());
    let pods_api: Api<Pod> = Api::default_namespaced(env.client.clone());

    // Record the largest number of live pods seen at any revision.
    let watch_api = pods_api.clone();
    let max_live = tokio::spawn(async move {
        let mut live: BTreeMap<String, bool> = BTreeMap::new();
        let mut max = 0;
        let stream = watcher(watch_api, watcher::Config::default()).default_backoff();
        futures::pin_mut!(stream);
        while let Some(Ok(ev)) = stream.next().await {
            match ev {
                watcher::Event::Apply(p) | watcher::Event::InitApply(p) => {
                    live.insert(p.name_any(), p.metadata.deletion_timestamp.is_none());
                }
                watcher::Event::Delete(p) => {
                    live.remove(&p.name_any());
                }
                _ => {}
            }
            max = max.max(live.values().filter(|l| **l).count());
            if max > 10 {
                return max;
            }
        }
        max
    });

    let rs = api
        .create(&PostParams::default(), &replicaset("churn", 10))
        .await
        .unwrap();
    // Keep the ReplicaSet busy (each write wakes it) while pods come and go, so that it syncs
    // while its pod watch lags behind its own creates and deletes.
    let poke_api = api.clone();
    let poker = tokio::spawn(async move {
        for i in 0.. {
            let patch = json!({"metadata": {"annotations": {"poke": i.to_string()}}});
            let _ = poke_api
                .patch("churn", &PatchParams::default(), &Patch::Merge(&patch))
                .await;
        }
    });
    for round in 0..6 {
        let pods = eventually(WAIT, "10 pods", || async {
            let pods = owned_pods(&env.client, &rs).await;
            (pods.len() == 10).then_some(pods)
        })
        .await;
        // Delete several at once, concurrently.
        let deletes = pods.iter().take(1 + round % 5).map(|p| {
            let pods_api = pods_api.clone();
            let name = p.name_any();
            async move {
                pods_api
                    .delete(&name, &DeleteParams::default())
                    .await
                    .unwrap()
            }
        });
        futures::future::join_all(deletes).await;
    }
    poker.abort();
    eventually(WAIT, "10 pods again", || async {
        (owned_pods(&env.client, &rs).await.len() == 10).then_some(())
    })
    .await;
    // Settled: nothing more is created.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(owned_pods(&env.client, &rs).await.len(), 10);
    let all = pods_api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .len();
    assert_eq!(all, 10, "no stray pods");
    max_live.abort();
    if let Ok(max) = max_live.await {
        assert!(max <= 10, "saw {max} live pods");
    }
}

#[tokio::test]
async fn adopts_orphans_and_releases_pods_that_stop_matching() {
    let env = start().await;
    let pods_api: Api<Pod> = Api::default_namespaced(env.client.clone());
    let orphan: Pod = serde_json::from_value(json!({
        "metadata": {"name": "orphan", "labels": {"app": "adopt"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }))
    .unwrap();
    pods_api
        .create(&PostParams::default(), &orphan)
        .await
        .unwrap();
    let api: Api<ReplicaSet> = Api::default_namespaced(env.client.clone());
    let rs = api
        .create(&PostParams::default(), &replicaset("adopt", 2))
        .await
        .unwrap();
    let pods = eventually(WAIT, "2 pods, one adopted", || async {
        let pods = owned_pods(&env.client, &rs).await;
        (pods.len() == 2).then_some(pods)
    })
    .await;
    assert!(
        pods.iter().any(|p| p.name_any() == "orphan"),
        "the orphan was adopted"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        pods_api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        2
    );

    // The adopted pod stops matching: released, and replaced.
    pods_api
        .patch(
            "orphan",
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"labels": {"app": "other"}}})),
        )
        .await
        .unwrap();
    eventually(WAIT, "released", || async {
        let p = pods_api.get("orphan").await.unwrap();
        p.owner_references().is_empty().then_some(())
    })
    .await;
    eventually(WAIT, "replaced", || async {
        let pods = owned_pods(&env.client, &rs).await;
        (pods.len() == 2 && pods.iter().all(|p| p.name_any() != "orphan")).then_some(())
    })
    .await;
}

#[tokio::test]
async fn terminating_pods_are_not_counted() {
    let env = start().await;
    let api: Api<ReplicaSet> = Api::default_namespaced(env.client.clone());
    let pods_api: Api<Pod> = Api::default_namespaced(env.client.clone());
    // Pods bound to a node (as if scheduled) are deleted gracefully: they stay, terminating,
    // until their kubelet confirms.
    let mut rs = replicaset("term", 2);
    let template = rs.spec.as_mut().unwrap().template.as_mut().unwrap();
    template.spec.as_mut().unwrap().node_name = Some("node-1".into());
    let rs = api.create(&PostParams::default(), &rs).await.unwrap();
    let pods = eventually(WAIT, "2 pods", || async {
        let pods = owned_pods(&env.client, &rs).await;
        (pods.len() == 2).then_some(pods)
    })
    .await;
    // The ReplicaSet must replace a terminating pod right away and not count it.
    let victim = pods[0].name_any();
    pods_api
        .delete(&victim, &DeleteParams::default())
        .await
        .unwrap();
    let p = pods_api.get(&victim).await.unwrap();
    assert!(p.metadata.deletion_timestamp.is_some(), "graceful deletion");
    eventually(WAIT, "a replacement", || async {
        let pods = owned_pods(&env.client, &rs).await;
        (pods.len() == 2 && pods.iter().all(|p| p.name_any() != victim)).then_some(())
    })
    .await;
    eventually(WAIT, "status of 2", || async {
        (rs_status(&api, "term").await["replicas"] == 2).then_some(())
    })
    .await;
}

/// The shared event recorder counts repeats of one Event instead of posting new ones.
#[tokio::test]
async fn repeated_events_are_counted() {
    let env = start().await;
    let api: Api<ReplicaSet> = Api::default_namespaced(env.client.clone());
    let rs = api
        .create(&PostParams::default(), &replicaset("ev", 0))
        .await
        .unwrap();
    let recorder = krust_component::events::Recorder::new(env.client.clone(), "test-component");
    let reference = krust_component::events::reference(&rs);
    for _ in 0..3 {
        recorder.normal(&reference, "Poked", "Poked it").await;
    }
    recorder.warning(&reference, "Broke", "Broke it").await;
    let events: Api<Event> = Api::default_namespaced(env.client.clone());
    let mine = eventually(WAIT, "the events", || async {
        let mine: Vec<Event> = events
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| {
                e.source.as_ref().and_then(|s| s.component.as_deref()) == Some("test-component")
            })
            .collect();
        let poked = mine.iter().find(|e| e.reason.as_deref() == Some("Poked"));
        (mine.len() == 2 && poked.is_some_and(|e| e.count == Some(3))).then_some(mine)
    })
    .await;
    let broke = mine
        .iter()
        .find(|e| e.reason.as_deref() == Some("Broke"))
        .unwrap();
    assert_eq!(broke.type_.as_deref(), Some("Warning"));
    assert_eq!(broke.involved_object.uid, rs.metadata.uid);
    assert!(broke.first_timestamp.is_some() && broke.last_timestamp.is_some());
}
