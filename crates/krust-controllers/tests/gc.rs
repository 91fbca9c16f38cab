//! The garbage collector against an in-process API server: Background, Foreground and
//! Orphan propagation over ownerReferences (ReplicaSets and pods made by hand; no ReplicaSet
//! controller runs here).

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use krust_testkit::{Spawned, create, eventually, spawn};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PropagationPolicy};
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};
use std::time::Duration;

async fn replicaset(client: &Client, name: &str) -> ReplicaSet {
    create(
        client,
        "default",
        json!({
            "metadata": {"name": name},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
        }),
    )
    .await
}

fn owner_ref<K: Resource<DynamicType = ()>>(owner: &K, block: bool) -> Value {
    json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "name": owner.name_any(),
        "uid": owner.uid().unwrap(),
        "controller": true,
        "blockOwnerDeletion": block,
    })
}

/// An unscheduled pod (deleted at once, no kubelet needed) owned by `owners`.
async fn owned_pod(client: &Client, name: &str, owners: Vec<Value>, finalizers: &[&str]) -> Pod {
    create(
        client,
        "default",
        json!({
            "metadata": {"name": name, "ownerReferences": owners, "finalizers": finalizers},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}
        }),
    )
    .await
}

/// Three pods owning each other in a ring (pod1 by pod3, pod2 by pod1, pod3 by pod2), every
/// reference blocking, as in Kubernetes' "should not be blocked by dependency circle".
async fn pod_cycle(client: &Client) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut made = Vec::new();
    for name in ["pod1", "pod2", "pod3"] {
        made.push(owned_pod(client, name, vec![], &[]).await);
    }
    for (dependent, owner) in [(0, 2), (1, 0), (2, 1)] {
        let refs = json!({"metadata": {"ownerReferences": [owner_ref(&made[owner], true)]}});
        pods.patch(
            &made[dependent].name_any(),
            &PatchParams::default(),
            &Patch::Merge(refs),
        )
        .await
        .unwrap();
    }
}

async fn gone<K>(api: &Api<K>, name: &str)
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    eventually(
        Duration::from_secs(10),
        &format!("{name} deleted"),
        || async { api.get_opt(name).await.unwrap().is_none().then_some(()) },
    )
    .await
}

#[tokio::test]
async fn background_deletion_removes_dependents() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let _gc = spawn(
        "gc",
        krust_controllers::garbage_collector::run(client.clone()),
    );
    let rs = replicaset(&client, "web").await;
    owned_pod(&client, "web-1", vec![owner_ref(&rs, true)], &[]).await;
    owned_pod(&client, "web-2", vec![owner_ref(&rs, true)], &[]).await;
    let bystander = owned_pod(&client, "other", vec![], &[]).await;

    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    rss.delete("web", &DeleteParams::background())
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    gone(&pods, "web-1").await;
    gone(&pods, "web-2").await;
    assert_eq!(
        pods.get("other").await.unwrap().uid(),
        bystander.uid(),
        "unowned pods stay"
    );
}

#[tokio::test]
async fn dependents_of_owners_that_never_existed_are_deleted() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    // Created before the collector starts: found on its first list.
    let ghost = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "ghost",
        "uid": "00000000-0000-0000-0000-000000000000", "controller": true});
    owned_pod(&client, "orphaned", vec![ghost.clone()], &[]).await;
    let _gc = spawn(
        "gc",
        krust_controllers::garbage_collector::run(client.clone()),
    );
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    gone(&pods, "orphaned").await;

    // An owner of the same name but another UID is not the owner.
    let _rs = replicaset(&client, "ghost").await;
    owned_pod(&client, "late", vec![ghost], &[]).await;
    gone(&pods, "late").await;
}

#[tokio::test]
async fn a_remaining_owner_keeps_the_dependent() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let _gc = spawn(
        "gc",
        krust_controllers::garbage_collector::run(client.clone()),
    );
    let a: ConfigMap = create(&client, "default", json!({"metadata": {"name": "a"}})).await;
    let b: ConfigMap = create(&client, "default", json!({"metadata": {"name": "b"}})).await;
    let mut ra = owner_ref(&a, false);
    ra["controller"] = json!(false);
    let mut rb = owner_ref(&b, false);
    rb["controller"] = json!(false);
    let dependent: ConfigMap = create(
        &client,
        "default",
        json!({"metadata": {"name": "dep", "ownerReferences": [ra, rb]}}),
    )
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.delete("a", &DeleteParams::default()).await.unwrap();
    let now = eventually(
        Duration::from_secs(10),
        "reference to a removed",
        || async {
            let d = cms.get("dep").await.unwrap();
            (d.owner_references().len() == 1).then_some(d)
        },
    )
    .await;
    assert_eq!(now.owner_references()[0].name, "b");
    assert_eq!(now.uid(), dependent.uid());
    cms.delete("b", &DeleteParams::default()).await.unwrap();
    gone(&cms, "dep").await;
}

#[tokio::test]
async fn foreground_deletion_waits_for_blocking_dependents() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let _gc = spawn(
        "gc",
        krust_controllers::garbage_collector::run(client.clone()),
    );
    let rs = replicaset(&client, "web").await;
    // One dependent holds on with a finalizer of its own, so the owner must wait for it.
    owned_pod(
        &client,
        "web-1",
        vec![owner_ref(&rs, true)],
        &["example.com/hold"],
    )
    .await;
    owned_pod(&client, "web-2", vec![owner_ref(&rs, true)], &[]).await;

    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    rss.delete("web", &DeleteParams::foreground())
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    gone(&pods, "web-2").await;
    let held = eventually(Duration::from_secs(10), "web-1 terminating", || async {
        let p = pods.get("web-1").await.unwrap();
        p.metadata.deletion_timestamp.is_some().then_some(p)
    })
    .await;
    assert!(held.finalizers().contains(&"example.com/hold".to_string()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiting = rss.get("web").await.expect("the owner waits for web-1");
    assert!(waiting.metadata.deletion_timestamp.is_some());
    assert_eq!(waiting.finalizers(), ["foregroundDeletion"]);

    pods.patch(
        "web-1",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    gone(&pods, "web-1").await;
    gone(&rss, "web").await;
}

#[tokio::test]
async fn foreground_deletion_ignores_non_blocking_dependents() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let _gc = spawn(
        "gc",
        krust_controllers::garbage_collector::run(client.clone()),
    );
    let rs = replicaset(&client, "web").await;
    owned_pod(
        &client,
        "web-1",
        vec![owner_ref(&rs, false)],
        &["example.com/hold"],
    )
    .await;
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    rss.delete("web", &DeleteParams::foreground())
        .await
        .unwrap();
    gone(&rss, "web").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let p = eventually(Duration::from_secs(10), "web-1 deleted too", || async {
        let p = pods.get("web-1").await.unwrap();
        p.metadata.deletion_timestamp.is_some().then_some(p)
    })
    .await;
    assert!(p.finalizers().contains(&"example.com/hold".to_string()));
}

#[tokio::test]
async fn orphan_deletion_keeps_dependents_without_the_reference() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let _gc = spawn(
        "gc",
        krust_controllers::garbage_collector::run(client.clone()),
    );
    let rs = replicaset(&client, "web").await;
    let other: ConfigMap = create(&client, "default", json!({"metadata": {"name": "keep"}})).await;
    let mut keep = owner_ref(&other, false);
    keep["controller"] = json!(false);
    owned_pod(&client, "web-1", vec![owner_ref(&rs, true)], &[]).await;
    owned_pod(&client, "web-2", vec![owner_ref(&rs, true), keep], &[]).await;

    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Orphan),
        ..Default::default()
    };
    rss.delete("web", &dp).await.unwrap();
    gone(&rss, "web").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    // Give a wrong collector time to delete them.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let p1 = pods.get("web-1").await.unwrap();
    assert!(
        p1.owner_references().is_empty(),
        "{:?}",
        p1.owner_references()
    );
    assert!(p1.metadata.deletion_timestamp.is_none());
    let p2 = pods.get("web-2").await.unwrap();
    let owners: Vec<&str> = p2
        .owner_references()
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(owners, ["keep"]);
}

/// Runs `test` on a runtime of its own and fails if it has not finished within `limit` of
/// wall-clock time: a collector that spins without yielding freezes the runtime it runs on
/// (with the API server in it), which would otherwise hang the test instead of failing it.
fn within<F>(limit: Duration, test: impl FnOnce() -> F + Send + 'static)
where
    F: std::future::Future<Output = ()>,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let run = std::panic::AssertUnwindSafe(|| rt.block_on(test()));
        let _ = tx.send(std::panic::catch_unwind(run).is_ok());
    });
    match rx.recv_timeout(limit) {
        Ok(passed) => assert!(passed, "the test failed (its panic is above)"),
        Err(_) => panic!("the test did not finish within {limit:?}: its runtime is stuck"),
    }
}

/// A server with the collector running, and the three pods of an ownerReference cycle
/// (pod1 owned by pod3, pod2 by pod1, pod3 by pod2), pod1 deleted in the foreground.
async fn cycle_deleted_in_the_foreground() -> (krust_testkit::TestServer, Spawned, Api<Pod>) {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let gc = spawn(
        "gc",
        krust_controllers::garbage_collector::run(client.clone()),
    );
    pod_cycle(&client).await;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    pods.delete("pod1", &DeleteParams::foreground())
        .await
        .unwrap();
    (server, gc, pods)
}

#[test]
fn a_foreground_deletion_in_an_owner_cycle_deletes_the_whole_cycle() {
    within(Duration::from_secs(60), || async {
        let (_server, _gc, pods) = cycle_deleted_in_the_foreground().await;
        for name in ["pod1", "pod2", "pod3"] {
            gone(&pods, name).await;
        }
    });
}

#[test]
fn an_owner_cycle_does_not_stop_collection_of_other_objects() {
    within(Duration::from_secs(60), || async {
        let (server, _gc, pods) = cycle_deleted_in_the_foreground().await;
        let client = server.client.clone();
        // Give the cycle time to take hold (or to stall a collector).
        tokio::time::sleep(Duration::from_millis(500)).await;

        // Background: a Deployment's ReplicaSet and its pods go.
        let deploy: Deployment = create(
            &client,
            "default",
            json!({
                "metadata": {"name": "app"},
                "spec": {"selector": {"matchLabels": {"app": "app"}},
                    "template": {"metadata": {"labels": {"app": "app"}},
                        "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
            }),
        )
        .await;
        let rs: ReplicaSet = create(
            &client,
            "default",
            json!({
                "metadata": {"name": "app-1", "ownerReferences": [owner_ref(&deploy, true)]},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "app"}},
                    "template": {"metadata": {"labels": {"app": "app"}},
                        "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
            }),
        )
        .await;
        owned_pod(&client, "app-1-a", vec![owner_ref(&rs, true)], &[]).await;
        let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
        deploys
            .delete("app", &DeleteParams::background())
            .await
            .unwrap();
        let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
        gone(&rss, "app-1").await;
        gone(&pods, "app-1-a").await;

        // Orphan: the ReplicaSet goes, its pod stays without the reference.
        let kept = replicaset(&client, "kept").await;
        owned_pod(&client, "kept-a", vec![owner_ref(&kept, true)], &[]).await;
        let orphan = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Orphan),
            ..Default::default()
        };
        rss.delete("kept", &orphan).await.unwrap();
        gone(&rss, "kept").await;
        let p = pods.get("kept-a").await.unwrap();
        assert!(
            p.owner_references().is_empty(),
            "{:?}",
            p.owner_references()
        );
        assert!(p.metadata.deletion_timestamp.is_none());
    });
}

#[test]
fn an_owner_cycle_already_stuck_in_the_foreground_is_broken_when_the_collector_starts() {
    within(Duration::from_secs(60), || async {
        let server = krust_testkit::start().await;
        let client = server.client.clone();
        // Every pod of the cycle waits for its dependents before any collector runs (as a
        // collector without cycle breaking left them).
        pod_cycle(&client).await;
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        for name in ["pod1", "pod2", "pod3"] {
            pods.delete(name, &DeleteParams::foreground())
                .await
                .unwrap();
            let p = pods.get(name).await.unwrap();
            assert_eq!(p.finalizers(), ["foregroundDeletion"]);
        }
        let _gc = spawn(
            "gc",
            krust_controllers::garbage_collector::run(client.clone()),
        );
        for name in ["pod1", "pod2", "pod3"] {
            gone(&pods, name).await;
        }
    });
}
