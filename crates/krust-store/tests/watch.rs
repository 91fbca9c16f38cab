//! Watches: replay from the window, live events, ordering, compaction and slow watchers.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use krust_store::{Error, Event, EventType, SqliteOptions, SqliteStore, Store, WatchStream};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn next(rx: &mut WatchStream) -> Event {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no event within 10s")
        .expect("watch closed")
}

#[tokio::test]
async fn replay_then_live_with_delete_details() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("db")).unwrap();
    store.create("/p/a", b("1")).await.unwrap(); // 1
    store.create("/q/a", b("1")).await.unwrap(); // 2
    store.update("/p/a", b("2"), 1).await.unwrap(); // 3

    let mut rx = store.watch("/p/", 1).unwrap();
    let modified = next(&mut rx).await;
    assert_eq!(modified.kind, EventType::Modified);
    assert_eq!(modified.kv.mod_revision, 3);
    assert_eq!(modified.prev.as_ref().map(|kv| kv.mod_revision), Some(1));

    store.create("/q/b", b("1")).await.unwrap(); // 4, other prefix
    store.delete("/p/a", None).await.unwrap(); // 5
    let deleted = next(&mut rx).await;
    assert_eq!(deleted.kind, EventType::Deleted);
    assert_eq!(
        (deleted.kv.mod_revision, deleted.kv.create_revision),
        (5, 1)
    );
    assert_eq!(deleted.kv.value, b("2"));
    assert_eq!(deleted.prev.map(|kv| kv.mod_revision), Some(3));
    assert!(rx.try_recv().is_err());

    // A watch from a future revision only sees what comes after it.
    let mut future = store.watch("/", 6).unwrap();
    store.create("/p/b", b("1")).await.unwrap(); // 6
    store.create("/p/c", b("1")).await.unwrap(); // 7
    assert_eq!(next(&mut future).await.kv.mod_revision, 7);
}

#[tokio::test]
async fn compacted_and_reopened_windows_refuse_old_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = SqliteStore::open(&path).unwrap();
        for i in 0..5 {
            store.create(&format!("/k{i}"), b("v")).await.unwrap();
        }
        assert_eq!(store.oldest_revision(), 1);
        assert!(store.watch("/", 0).is_ok());
        store.compact(3).await.unwrap();
        assert_eq!(store.oldest_revision(), 3);
        assert!(matches!(
            store.watch("/", 1),
            Err(Error::Compacted {
                requested: 1,
                oldest: 3
            })
        ));
        let mut rx = store.watch("/", 2).unwrap();
        assert_eq!(next(&mut rx).await.kv.mod_revision, 3);
        assert!(matches!(
            store.compact(7).await,
            Err(Error::FutureRevision { .. })
        ));
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!((store.revision(), store.oldest_revision()), (5, 6));
    assert!(matches!(store.watch("/", 4), Err(Error::Compacted { .. })));
    let mut rx = store.watch("/", 5).unwrap();
    store.create("/after", b("v")).await.unwrap();
    assert_eq!(next(&mut rx).await.kv.mod_revision, 6);
}

#[tokio::test]
async fn window_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        window_size: 3,
        ..Default::default()
    };
    let store = SqliteStore::open_with(&dir.path().join("db"), options).unwrap();
    for i in 0..10 {
        store.create(&format!("/k{i}"), b("v")).await.unwrap();
    }
    assert_eq!(store.oldest_revision(), 8);
    assert!(store.watch("/", 7).is_ok());
    assert!(matches!(store.watch("/", 6), Err(Error::Compacted { .. })));
}

#[tokio::test]
async fn a_watcher_that_falls_behind_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        watch_buffer: 4,
        ..Default::default()
    };
    let store = SqliteStore::open_with(&dir.path().join("db"), options).unwrap();
    let mut slow = store.watch("/", 0).unwrap();
    for i in 0..10 {
        store.create(&format!("/k{i}"), b("v")).await.unwrap();
    }
    let mut got = Vec::new();
    while let Some(event) = slow.recv().await {
        got.push(event.kv.mod_revision);
    }
    assert_eq!(got, [1, 2, 3, 4]);
    // It resumes from the last revision it saw, with a replay bigger than its buffer.
    let mut resumed = store.watch("/", 4).unwrap();
    for rev in 5..=10 {
        assert_eq!(next(&mut resumed).await.kv.mod_revision, rev);
    }
}

#[tokio::test]
async fn dropping_the_store_closes_watches() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("db")).unwrap();
    let mut rx = store.watch("/", 0).unwrap();
    drop(store);
    assert!(rx.recv().await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn replay_and_live_have_no_gap_under_concurrent_writers() {
    const WRITERS: usize = 16;
    const WRITES: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("db")).unwrap();
    for i in 0..50 {
        store.create(&format!("/seed/{i}"), b("v")).await.unwrap();
    }
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for i in 0..WRITES {
                    let key = format!("/w{}/{w}-{i}", w % 2);
                    let kv = store.create(&key, b("v")).await.unwrap();
                    acked.push((key.clone(), kv.mod_revision));
                    let kv = store.update(&key, b("w"), kv.mod_revision).await.unwrap();
                    acked.push((key, kv.mod_revision));
                }
                acked
            })
        })
        .collect();
    // Watchers join while the writers run, each from the revision current at that moment
    // (or a little before it), so replay and live events meet in the middle of the stream.
    let mut watchers = Vec::new();
    for round in 0..20 {
        let after = (store.revision() - round % 3).max(0);
        let prefix = if round % 2 == 0 { "/" } else { "/w1/" };
        watchers.push((prefix, after, store.watch(prefix, after).unwrap()));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut acked = Vec::new();
    for writer in writers {
        acked.extend(writer.await.unwrap());
    }
    let last = store.revision();
    assert_eq!(last as usize, 50 + WRITERS * WRITES * 2);
    for (prefix, after, mut rx) in watchers {
        let mut expected: Vec<_> = acked
            .iter()
            .filter(|(key, rev)| *rev > after && key.starts_with(prefix))
            .map(|(_, rev)| *rev)
            .collect();
        if prefix == "/" {
            expected = (after + 1..=last).collect();
        } else {
            expected.sort_unstable();
        }
        let mut got = Vec::with_capacity(expected.len());
        while got.len() < expected.len() {
            got.push(next(&mut rx).await.kv.mod_revision);
        }
        assert_eq!(got, expected, "watch {prefix} after {after}");
        assert!(rx.try_recv().is_err());
    }
}

#[tokio::test]
async fn store_is_usable_as_a_trait_object() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = SqliteStore::open(&dir.path().join("db")).unwrap();
    let mut rx = store.watch("/", store.revision()).unwrap();
    store.create("/x", b("v")).await.unwrap();
    assert_eq!(next(&mut rx).await.kind, EventType::Created);
}
