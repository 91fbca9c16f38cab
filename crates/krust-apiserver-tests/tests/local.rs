//! The in-process transport (`Running::local`): a kube-rs client of it reads, writes and
//! watches like one over HTTPS, under the identity it was given.

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use krust_testkit::{configmap, next_within, registered_watchers};
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
use kube::{Client, ResourceExt};
use std::time::Duration;

#[tokio::test]
async fn a_local_client_reads_writes_and_watches_as_its_user() {
    let server = krust_testkit::start().await;
    server.namespace("local").await;
    let local = Client::new(server.running.local("system:kube-scheduler"), "default");
    let api: Api<ConfigMap> = Api::namespaced(local.clone(), "local");

    let mut events = api
        .watch(&WatchParams::default(), "0")
        .await
        .expect("watching over the local transport")
        .boxed();
    let created = api
        .create(&PostParams::default(), &configmap("a", &[], &[("k", "v")]))
        .await
        .expect("creating over the local transport");
    // Written without a fieldManager: recorded under the component's name.
    let managers: Vec<String> = created
        .managed_fields()
        .iter()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert_eq!(managers, ["kube-scheduler"]);

    // The HTTPS client sees what the local one wrote, and the local watch sees it too.
    let over_https: Api<ConfigMap> = server.api("local");
    let read = over_https.get("a").await.expect("reading over HTTPS");
    // The answer to the create (the stored bytes) is the object as read back.
    assert_eq!(read, created);
    match next_within(&mut events, Duration::from_secs(5)).await {
        Some(Ok(WatchEvent::Added(cm))) => assert_eq!(cm.name_any(), "a"),
        other => panic!("expected ADDED a, got {other:?}"),
    }

    // Dropping the watch ends it on the server.
    assert_eq!(registered_watchers(&local, "configmaps").await, 1);
    drop(events);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while registered_watchers(&local, "configmaps").await != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the watch stayed open"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Errors are Kubernetes Status answers, as over HTTPS.
    let err = api.get("missing").await.expect_err("no such ConfigMap");
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 404);
            assert_eq!(status.message, "configmaps \"missing\" not found");
        }
        other => panic!("expected a 404 Status, got {other:?}"),
    }
}
