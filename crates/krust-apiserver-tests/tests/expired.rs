//! 410 Gone: a watch from a resourceVersion older than the store's history gets HTTP 200 and
//! one ERROR event with a 410 `Expired` Status, and `kube::runtime::watcher` relists.

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use krust_store::{SqliteOptions, Store};
use krust_testkit::{configmap, eventually, names, next_within};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, PostParams, VersionMatch, WatchEvent, WatchParams};
use kube::runtime::reflector;
use kube::runtime::watcher::{self, Event};
use std::time::Duration;
use tokio::sync::mpsc;

const STEP: Duration = Duration::from_secs(5);

/// Asserts that a watch from `rv` gets exactly one ERROR event with a 410 and then ends.
async fn assert_expired(api: &Api<ConfigMap>, rv: &str) {
    let mut stream = api
        .watch(&WatchParams::default().timeout(10), rv)
        .await
        .expect("the watch request itself succeeds (HTTP 200), the error comes as an event")
        .boxed();
    match next_within(&mut stream, STEP).await {
        Some(Ok(WatchEvent::Error(s))) => {
            assert_eq!(s.code, 410, "{s:?}");
            assert_eq!(s.reason, "Expired", "{s:?}");
            assert!(s.message.contains("too old resource version"), "{s:?}");
        }
        other => panic!("expected an ERROR event with a 410, got {other:?}"),
    }
    assert!(
        next_within(&mut stream, STEP).await.is_none(),
        "the watch ends after the ERROR event"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_from_a_compacted_revision_gets_a_410_event() {
    let (srv, store) = krust_testkit::start_with_options(SqliteOptions::default()).await;
    let cms: Api<ConfigMap> = srv.api("default");
    let old = cms
        .create(&PostParams::default(), &configmap("a", &[], &[]))
        .await
        .unwrap();
    let old_rv = old.resource_version().unwrap();
    for i in 0..3 {
        cms.create(
            &PostParams::default(),
            &configmap(&format!("b{i}"), &[], &[]),
        )
        .await
        .unwrap();
    }
    // A watch from the old revision still works before compaction.
    let mut ok = cms
        .watch(&WatchParams::default().timeout(10), &old_rv)
        .await
        .unwrap()
        .boxed();
    match next_within(&mut ok, STEP).await {
        Some(Ok(WatchEvent::Added(o))) => assert_eq!(o.name_any(), "b0"),
        other => panic!("expected ADDED b0, got {other:?}"),
    }

    store.compact(store.revision()).await.unwrap();
    assert_expired(&cms, &old_rv).await;

    // A list at the compacted revision is refused with 410 too.
    let lp = ListParams::default()
        .at(&old_rv)
        .matching(VersionMatch::Exact);
    let s = krust_testkit::status(cms.list(&lp).await);
    assert_eq!(s.code, 410, "{s:?}");
    assert_eq!(s.reason, "Expired");

    // A watch from the current revision is fine.
    let now = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut fresh = cms
        .watch(&WatchParams::default().timeout(10), &now)
        .await
        .unwrap()
        .boxed();
    cms.create(&PostParams::default(), &configmap("c", &[], &[]))
        .await
        .unwrap();
    loop {
        match next_within(&mut fresh, STEP).await {
            Some(Ok(WatchEvent::Bookmark(_))) => continue,
            Some(Ok(WatchEvent::Added(o))) => {
                assert_eq!(o.name_any(), "c");
                break;
            }
            other => panic!("expected ADDED c, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_from_beyond_a_small_window_gets_a_410_event() {
    let options = SqliteOptions {
        window_size: 8,
        ..SqliteOptions::default()
    };
    let (srv, _store) = krust_testkit::start_with_options(options).await;
    let cms: Api<ConfigMap> = srv.api("default");
    let old = cms
        .create(&PostParams::default(), &configmap("a", &[], &[]))
        .await
        .unwrap();
    for i in 0..20 {
        cms.create(
            &PostParams::default(),
            &configmap(&format!("b{i:02}"), &[], &[]),
        )
        .await
        .unwrap();
    }
    assert_expired(&cms, &old.resource_version().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_relists_after_a_410() {
    let (srv, store) = krust_testkit::start_with_options(SqliteOptions::default()).await;
    let cms: Api<ConfigMap> = srv.api("default");
    let pp = PostParams::default();
    cms.create(&pp, &configmap("w1", &[("app", "w")], &[]))
        .await
        .unwrap();

    // Watches of one second, on a label: writes to other ConfigMaps move the store's revision
    // on without the watcher seeing any event, so it resumes from an old resourceVersion.
    let (reader, writer) = reflector::store();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let config = watcher::Config::default().labels("app=w").timeout(1);
    let stream = reflector::reflector(writer, watcher::watcher(cms.clone(), config));
    tokio::spawn(stream.for_each(move |ev| {
        let seen = match &ev {
            Ok(Event::Init) => "init".to_string(),
            Ok(Event::InitDone) => "init-done".to_string(),
            Ok(_) => "event".to_string(),
            Err(watcher::Error::WatchError(s)) => format!("watch-error {}", s.code),
            Err(e) => format!("error {e}"),
        };
        let _ = tx.send(seen);
        async {}
    }));
    tokio::time::timeout(STEP, reader.wait_until_ready())
        .await
        .unwrap()
        .unwrap();

    for i in 0..5 {
        cms.create(
            &pp,
            &configmap(&format!("other{i}"), &[("app", "other")], &[]),
        )
        .await
        .unwrap();
    }
    store.compact(store.revision()).await.unwrap();

    // The next resumed watch gets a 410; the watcher starts over with a new list.
    let mut log = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    loop {
        let seen = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no relist after a 410; watcher events: {log:?}"))
            .unwrap();
        log.push(seen);
        let expired = log.iter().position(|s| s == "watch-error 410");
        if let Some(at) = expired
            && log[at..].iter().any(|s| s == "init-done")
        {
            break;
        }
    }
    assert_eq!(
        log.iter().filter(|s| s.starts_with("error")).count(),
        0,
        "log: {log:?}"
    );

    // And the reflector still follows the server.
    cms.create(&pp, &configmap("w2", &[("app", "w")], &[]))
        .await
        .unwrap();
    cms.delete("w1", &DeleteParams::default()).await.unwrap();
    eventually(
        Duration::from_secs(8),
        "the reflector to converge after the relist",
        || {
            let local = names(reader.state().iter().map(|o| o.as_ref()));
            async move { (local == ["w2"]).then_some(()) }
        },
    )
    .await;
}
