//! Metadata-only reads (`PartialObjectMetadata`), as kube-rs metadata watchers use them.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use krust_testkit::configmap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_gets_and_watches_carry_metadata_only() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    cms.create(
        &PostParams::default(),
        &configmap("a", &[("team", "x")], &[("k", "v")]),
    )
    .await
    .unwrap();
    let list = cms.list_metadata(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].metadata.name.as_deref(), Some("a"));
    let one = cms.get_metadata("a").await.unwrap();
    assert_eq!(one.types.as_ref().unwrap().kind, "PartialObjectMetadata");

    let rv = list.metadata.resource_version.clone().unwrap();
    let mut events = cms
        .watch_metadata(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    cms.create(&PostParams::default(), &configmap("b", &[], &[("k", "v")]))
        .await
        .unwrap();
    match events.try_next().await.unwrap() {
        Some(WatchEvent::Added(o)) => {
            assert_eq!(o.metadata.name.as_deref(), Some("b"));
            assert_eq!(o.types.unwrap().kind, "PartialObjectMetadata");
            let b = cms.get("b").await.unwrap();
            assert_eq!(o.metadata.resource_version, b.metadata.resource_version);
            assert_eq!(o.metadata.uid, b.metadata.uid);
        }
        other => panic!("expected ADDED, got {other:?}"),
    }
    cms.delete("a", &Default::default()).await.unwrap();
    match events.try_next().await.unwrap() {
        Some(WatchEvent::Deleted(o)) => {
            assert_eq!(o.metadata.name.as_deref(), Some("a"));
            assert_eq!(o.metadata.labels.unwrap()["team"], "x");
            assert!(o.metadata.resource_version.is_some_and(|rv| rv != "0"));
        }
        other => panic!("expected DELETED, got {other:?}"),
    }
}
