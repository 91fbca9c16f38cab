//! Raw watches through `Api::watch`: ordering, selectors, bookmarks, streaming lists and
//! timeouts.

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use krust_testkit::{configmap, next_within};
use kube::ResourceExt;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use serde_json::json;
use std::time::{Duration, Instant};

const STEP: Duration = Duration::from_secs(5);

/// The next event that is not a bookmark.
async fn next_event<S>(stream: &mut S) -> WatchEvent<ConfigMap>
where
    S: Stream<Item = kube::Result<WatchEvent<ConfigMap>>> + Unpin,
{
    loop {
        match next_within(stream, STEP).await {
            Some(Ok(WatchEvent::Bookmark(_))) => continue,
            Some(Ok(ev)) => return ev,
            Some(Err(e)) => panic!("watch failed: {e}"),
            None => panic!("the watch ended early"),
        }
    }
}

fn rv(cm: &ConfigMap) -> i64 {
    cm.resource_version()
        .expect("resourceVersion")
        .parse()
        .expect("numeric resourceVersion")
}

/// Reads `stream` to its end, returning every event and how long that took.
async fn drain<S>(stream: &mut S, limit: Duration) -> (Vec<WatchEvent<ConfigMap>>, Duration)
where
    S: Stream<Item = kube::Result<WatchEvent<ConfigMap>>> + Unpin,
{
    let started = Instant::now();
    let mut events = Vec::new();
    loop {
        match tokio::time::timeout(limit, stream.next()).await {
            Ok(Some(Ok(ev))) => events.push(ev),
            Ok(Some(Err(e))) => panic!("watch failed: {e}"),
            Ok(None) => return (events, started.elapsed()),
            Err(_) => panic!("the watch did not end within {limit:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_from_a_list_sees_added_modified_deleted_in_order() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    cms.create(&PostParams::default(), &configmap("before", &[], &[]))
        .await
        .unwrap();
    let list = cms.list(&ListParams::default()).await.unwrap();
    let from = list.metadata.resource_version.unwrap();
    let mut stream = cms
        .watch(&WatchParams::default().timeout(20), &from)
        .await
        .unwrap()
        .boxed();

    let created = cms
        .create(&PostParams::default(), &configmap("w", &[], &[("k", "1")]))
        .await
        .unwrap();
    let patched = cms
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"k": "2"}})),
        )
        .await
        .unwrap();
    cms.delete("w", &DeleteParams::default()).await.unwrap();

    let WatchEvent::Added(a) = next_event(&mut stream).await else {
        panic!("expected ADDED first")
    };
    assert_eq!(a.name_any(), "w");
    assert_eq!(rv(&a), rv(&created));
    assert!(rv(&a) > from.parse::<i64>().unwrap());
    let WatchEvent::Modified(m) = next_event(&mut stream).await else {
        panic!("expected MODIFIED second")
    };
    assert_eq!(m.data.as_ref().unwrap()["k"], "2");
    assert_eq!(rv(&m), rv(&patched));
    let WatchEvent::Deleted(d) = next_event(&mut stream).await else {
        panic!("expected DELETED third")
    };
    assert_eq!(d.name_any(), "w");
    assert!(
        rv(&d) > rv(&m),
        "a DELETED event carries the delete's resourceVersion"
    );
    assert_eq!(
        d.data.as_ref().unwrap()["k"],
        "2",
        "a DELETED event carries the last state"
    );

    // "before" existed at the list's revision, so it is not replayed.
    let later = cms.list(&ListParams::default()).await.unwrap();
    assert_eq!(krust_testkit::names(&later.items), ["before"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_with_selectors_sees_objects_enter_and_leave() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    let from = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let wp = WatchParams::default().labels("color=blue").timeout(20);
    let mut stream = cms.watch(&wp, &from).await.unwrap().boxed();
    let mut by_name = cms
        .watch(
            &WatchParams::default().fields("metadata.name=x").timeout(20),
            &from,
        )
        .await
        .unwrap()
        .boxed();

    cms.create(
        &PostParams::default(),
        &configmap("red", &[("color", "red")], &[]),
    )
    .await
    .unwrap();
    cms.create(
        &PostParams::default(),
        &configmap("x", &[("color", "blue")], &[]),
    )
    .await
    .unwrap();
    let recolor = |c: &str| Patch::Merge(json!({"metadata": {"labels": {"color": c}}}));
    cms.patch("red", &PatchParams::default(), &recolor("blue"))
        .await
        .unwrap();
    cms.patch("x", &PatchParams::default(), &recolor("green"))
        .await
        .unwrap();
    cms.delete("x", &DeleteParams::default()).await.unwrap();
    cms.delete("red", &DeleteParams::default()).await.unwrap();

    let mut seen = Vec::new();
    for _ in 0..4 {
        let (kind, obj) = match next_event(&mut stream).await {
            WatchEvent::Added(o) => ("ADDED", o),
            WatchEvent::Modified(o) => ("MODIFIED", o),
            WatchEvent::Deleted(o) => ("DELETED", o),
            other => panic!("unexpected {other:?}"),
        };
        seen.push((kind, obj.name_any()));
    }
    let want = [
        ("ADDED", "x"),
        ("ADDED", "red"),
        ("DELETED", "x"),
        ("DELETED", "red"),
    ];
    let want: Vec<(&str, String)> = want.iter().map(|(k, n)| (*k, n.to_string())).collect();
    assert_eq!(
        seen, want,
        "an object entering the selection is ADDED, one leaving it DELETED"
    );

    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(match next_event(&mut by_name).await {
            WatchEvent::Added(o) => ("ADDED", o.name_any()),
            WatchEvent::Modified(o) => ("MODIFIED", o.name_any()),
            WatchEvent::Deleted(o) => ("DELETED", o.name_any()),
            other => panic!("unexpected {other:?}"),
        });
    }
    let want: Vec<(&str, String)> = ["ADDED", "MODIFIED", "DELETED"]
        .iter()
        .map(|k| (*k, "x".to_string()))
        .collect();
    assert_eq!(seen, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_from_zero_starts_with_the_current_state() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    for n in ["a", "b"] {
        cms.create(&PostParams::default(), &configmap(n, &[], &[]))
            .await
            .unwrap();
    }
    let mut stream = cms
        .watch(&WatchParams::default().timeout(20), "0")
        .await
        .unwrap()
        .boxed();
    let mut added = Vec::new();
    for _ in 0..2 {
        match next_event(&mut stream).await {
            WatchEvent::Added(o) => added.push(o.name_any()),
            other => panic!("expected the initial ADDED events, got {other:?}"),
        }
    }
    added.sort();
    assert_eq!(added, ["a", "b"]);
    cms.create(&PostParams::default(), &configmap("c", &[], &[]))
        .await
        .unwrap();
    match next_event(&mut stream).await {
        WatchEvent::Added(o) => assert_eq!(o.name_any(), "c"),
        other => panic!("expected ADDED c, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_list_sends_initial_events_then_an_end_bookmark() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    let mut last = 0;
    let mut want = vec!["a".to_string(), "b".to_string(), "c".to_string()];
    for n in ["a", "b", "c"] {
        last = rv(&cms
            .create(&PostParams::default(), &configmap(n, &[], &[]))
            .await
            .unwrap());
    }

    for version in ["0", ""] {
        let wp = WatchParams::streaming_lists().timeout(20);
        let mut stream = cms.watch(&wp, version).await.unwrap().boxed();
        let mut added = Vec::new();
        let bookmark = loop {
            match next_within(&mut stream, STEP).await {
                Some(Ok(WatchEvent::Added(o))) => added.push(o.name_any()),
                Some(Ok(WatchEvent::Bookmark(b))) => break b,
                other => panic!("expected ADDED or BOOKMARK, got {other:?}"),
            }
        };
        added.sort();
        assert_eq!(added, want, "resourceVersion {version:?}");
        assert_eq!(
            bookmark
                .metadata
                .annotations
                .get("k8s.io/initial-events-end")
                .map(String::as_str),
            Some("true"),
            "the bookmark after the initial events is annotated"
        );
        let at: i64 = bookmark.metadata.resource_version.parse().unwrap();
        assert!(
            at >= last,
            "the end bookmark's resourceVersion {at} covers the initial state ({last})"
        );

        // Then the watch goes on.
        let name = format!("after{}", version.len());
        cms.create(&PostParams::default(), &configmap(&name, &[], &[]))
            .await
            .unwrap();
        match next_event(&mut stream).await {
            WatchEvent::Added(o) => assert_eq!(o.name_any(), name),
            other => panic!("expected ADDED {name}, got {other:?}"),
        }
        last = rv(&cms.get(&name).await.unwrap());
        want.push(name);
        want.sort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_ends_after_timeout_seconds() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    let from = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = cms
        .watch(
            &WatchParams::default().disable_bookmarks().timeout(2),
            &from,
        )
        .await
        .unwrap()
        .boxed();
    let (events, took) = drain(&mut stream, Duration::from_secs(8)).await;
    assert!(events.is_empty(), "no events on an idle watch: {events:?}");
    assert!(
        took >= Duration::from_millis(1500),
        "ended too early: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "ended too late: {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_bookmarks_only_when_allowed() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    cms.create(&PostParams::default(), &configmap("a", &[], &[]))
        .await
        .unwrap();
    let from = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();

    let wp = WatchParams::default().disable_bookmarks().timeout(3);
    let mut stream = cms.watch(&wp, &from).await.unwrap().boxed();
    let (without, _) = drain(&mut stream, Duration::from_secs(8)).await;
    assert!(
        !without.iter().any(|e| matches!(e, WatchEvent::Bookmark(_))),
        "no bookmarks without allowWatchBookmarks: {without:?}"
    );
}

/// Kubernetes sends a bookmark shortly before a watch's timeout (about two seconds
/// before), so that a client resumes from a recent resourceVersion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_with_bookmarks_gets_one_before_the_timeout() {
    let srv = krust_testkit::start().await;
    let cms: Api<ConfigMap> = srv.api("default");
    cms.create(&PostParams::default(), &configmap("a", &[], &[]))
        .await
        .unwrap();
    let list = cms.list(&ListParams::default()).await.unwrap();
    let from = list.metadata.resource_version.unwrap();

    let mut stream = cms
        .watch(&WatchParams::default().timeout(4), &from)
        .await
        .unwrap()
        .boxed();
    let (events, _) = drain(&mut stream, Duration::from_secs(9)).await;
    let bookmarks: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            WatchEvent::Bookmark(b) => Some(b),
            _ => None,
        })
        .collect();
    assert!(
        !bookmarks.is_empty(),
        "a bookmark before the timeout: {events:?}"
    );
    for b in bookmarks {
        assert_eq!(b.types.kind, "ConfigMap");
        assert_eq!(b.types.api_version, "v1");
        assert!(
            b.metadata.resource_version.parse::<i64>().unwrap() >= from.parse::<i64>().unwrap()
        );
    }
}
