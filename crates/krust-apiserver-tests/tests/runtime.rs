//! kube-runtime against the server: a reflector's store converging on the server's state
//! (with list-then-watch and with streaming lists), and a Controller reconciling objects.

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use krust_testkit::{configmap, eventually, names};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const CONVERGE: Duration = Duration::from_secs(8);

/// Runs a reflector over `api` in the background; returns its store once it is ready.
async fn reflect(api: Api<ConfigMap>, config: watcher::Config) -> Store<ConfigMap> {
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, config)).default_backoff();
    tokio::spawn(stream.for_each(|_| async {}));
    tokio::time::timeout(CONVERGE, reader.wait_until_ready())
        .await
        .expect("the reflector got ready")
        .unwrap();
    reader
}

/// Waits until the store holds what the server lists, and returns the names.
async fn converged(api: &Api<ConfigMap>, store: &Store<ConfigMap>, want: &[&str]) {
    let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    let server = names(&api.list(&ListParams::default()).await.unwrap().items);
    assert_eq!(server, want, "the server's state");
    eventually(CONVERGE, "the reflector to converge", || {
        let local: Vec<String> = names(store.state().iter().map(|o| o.as_ref()));
        let ok = local == want;
        async move { ok.then_some(()) }
    })
    .await;
    // Same versions as the server, not just the same names.
    for obj in api.list(&ListParams::default()).await.unwrap().items {
        let local = store
            .state()
            .into_iter()
            .find(|o| o.name_any() == obj.name_any())
            .unwrap();
        assert_eq!(
            local.resource_version(),
            obj.resource_version(),
            "{}",
            obj.name_any()
        );
    }
}

async fn reflector_converges(config: watcher::Config) {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    let pp = PostParams::default();
    cms.create(&pp, &configmap("pre", &[], &[])).await.unwrap();
    let store = reflect(cms.clone(), config).await;
    converged(&cms, &store, &["pre"]).await;

    for n in ["a", "b", "c"] {
        cms.create(&pp, &configmap(n, &[], &[])).await.unwrap();
    }
    cms.delete("b", &DeleteParams::default()).await.unwrap();
    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "v"}})),
    )
    .await
    .unwrap();
    cms.delete("pre", &DeleteParams::default()).await.unwrap();
    converged(&cms, &store, &["a", "c"]).await;
    let a = store
        .state()
        .into_iter()
        .find(|o| o.name_any() == "a")
        .unwrap();
    assert_eq!(a.data.as_ref().unwrap()["k"], "v");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflector_converges_with_list_then_watch() {
    reflector_converges(watcher::Config::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflector_converges_with_paged_lists() {
    reflector_converges(watcher::Config::default().page_size(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflector_converges_with_streaming_lists() {
    reflector_converges(watcher::Config::default().streaming_lists()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflector_survives_watch_timeouts() {
    // Watches of one second end over and over; the watcher resumes each from where it was.
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    let store = reflect(cms.clone(), watcher::Config::default().timeout(1)).await;
    cms.create(&PostParams::default(), &configmap("a", &[], &[]))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cms.create(&PostParams::default(), &configmap("b", &[], &[]))
        .await
        .unwrap();
    converged(&cms, &store, &["a", "b"]).await;
}

/// Marks every ConfigMap it sees with an annotation.
async fn reconcile(cm: Arc<ConfigMap>, api: Arc<Api<ConfigMap>>) -> Result<Action, kube::Error> {
    if cm.annotations().get("reconciled").map(String::as_str) != Some("yes") {
        let patch = json!({"metadata": {"annotations": {"reconciled": "yes"}}});
        api.patch(
            &cm.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    }
    Ok(Action::await_change())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_reconciles_each_configmap() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    cms.create(&PostParams::default(), &configmap("early", &[], &[]))
        .await
        .unwrap();

    let controller = Controller::new(cms.clone(), watcher::Config::default())
        .run(
            reconcile,
            |_, _: &kube::Error, _| Action::requeue(Duration::from_millis(100)),
            Arc::new(cms.clone()),
        )
        .for_each(|_| async {});
    tokio::spawn(controller);

    for n in ["one", "two", "three"] {
        cms.create(&PostParams::default(), &configmap(n, &[], &[]))
            .await
            .unwrap();
    }
    eventually(CONVERGE, "every ConfigMap to be reconciled", || {
        let cms = cms.clone();
        async move {
            let list = cms.list(&ListParams::default()).await.ok()?;
            let done = list
                .items
                .iter()
                .filter(|c| c.annotations().get("reconciled").map(String::as_str) == Some("yes"))
                .count();
            (list.items.len() == 4 && done == 4).then_some(())
        }
    })
    .await;
}
