//! The controller manager's shared informers against an in-process API server: one watch
//! per kind, whatever the number of controllers reading it.

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use krust_controllers::informers::Informers;
use krust_testkit::{create, eventually, pod_json, registered_watchers};
use kube::api::{Api, DeleteParams};
use kube::runtime::watcher::Event;
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// The name of the object an event carries, with what it is.
fn seen(event: &Event<Pod>) -> String {
    match event {
        Event::Init => "init".into(),
        Event::InitApply(p) => format!("list {}", p.metadata.name.as_deref().unwrap()),
        Event::InitDone => "listed".into(),
        Event::Apply(p) => format!("apply {}", p.metadata.name.as_deref().unwrap()),
        Event::Delete(p) => format!("delete {}", p.metadata.name.as_deref().unwrap()),
    }
}

async fn next(events: &mut krust_controllers::informer::Events<Pod>) -> String {
    let event = tokio::time::timeout(WAIT, events.next()).await.unwrap();
    seen(&event.expect("the stream goes on"))
}

#[tokio::test]
async fn readers_of_a_kind_share_one_watch_and_each_gets_the_list_then_the_changes() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let _: Pod = create(&client, "default", pod_json("before", json!({}), None)).await;
    let informers = Informers::new(client.clone());

    let (store, mut first) = informers.reflect::<Pod>();
    assert_eq!(next(&mut first).await, "init");
    assert_eq!(next(&mut first).await, "list before");
    assert_eq!(next(&mut first).await, "listed");
    assert_eq!(store.state().len(), 1);

    let _: Pod = create(&client, "default", pod_json("after", json!({}), None)).await;
    assert_eq!(next(&mut first).await, "apply after");

    // A second reader, late: the store's list as it is now, then what changes.
    let (_, mut second) = informers.reflect::<Pod>();
    assert_eq!(next(&mut second).await, "init");
    let mut listed = vec![next(&mut second).await, next(&mut second).await];
    listed.sort();
    assert_eq!(listed, ["list after", "list before"]);
    assert_eq!(next(&mut second).await, "listed");
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    pods.delete("before", &DeleteParams::default())
        .await
        .unwrap();
    for events in [&mut first, &mut second] {
        assert_eq!(next(events).await, "delete before");
    }
    assert_eq!(
        registered_watchers(&client, "pods").await,
        1,
        "one watch for both"
    );

    // The last clone dropped, the watch ends.
    drop(informers);
    eventually(WAIT, "the pod watch to end", || async {
        (registered_watchers(&client, "pods").await == 0).then_some(())
    })
    .await;
}
