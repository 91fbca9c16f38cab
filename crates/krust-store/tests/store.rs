//! Reads, writes, preconditions, revisions and lists of the SQLite store.

use std::sync::Arc;

use bytes::Bytes;
use krust_store::{Error, ListOptions, SqliteStore, Store};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn keys(items: &[krust_store::KeyValue]) -> Vec<&str> {
    items.iter().map(|kv| kv.key.as_str()).collect()
}

#[tokio::test]
async fn create_get_update_delete_with_preconditions() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = SqliteStore::open(&dir.path().join("db")).unwrap();
    assert_eq!(store.revision(), 0);

    let a = store.create("/a", b("1")).await.unwrap();
    assert_eq!((a.create_revision, a.mod_revision), (1, 1));
    assert!(matches!(
        store.create("/a", b("x")).await,
        Err(Error::AlreadyExists(_))
    ));
    assert_eq!(store.get("/a").await.unwrap(), Some(a.clone()));
    assert_eq!(store.get("/missing").await.unwrap(), None);

    let a2 = store.update("/a", b("2"), 1).await.unwrap();
    assert_eq!((a2.create_revision, a2.mod_revision), (1, 2));
    assert_eq!(a2.value, b("2"));
    match store.update("/a", b("3"), 1).await {
        Err(Error::Conflict {
            expected, current, ..
        }) => assert_eq!((expected, current), (1, 2)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(matches!(
        store.update("/nope", b("3"), 1).await,
        Err(Error::NotFound(_))
    ));
    // Failed writes take no revision.
    assert_eq!(store.revision(), 2);

    assert!(matches!(
        store.delete("/a", Some(1)).await,
        Err(Error::Conflict { .. })
    ));
    let deleted = store.delete("/a", Some(2)).await.unwrap();
    assert_eq!(deleted.value, b("2"));
    assert_eq!((deleted.create_revision, deleted.mod_revision), (1, 3));
    assert_eq!(store.get("/a").await.unwrap(), None);
    assert!(matches!(
        store.delete("/a", None).await,
        Err(Error::NotFound(_))
    ));

    let again = store.create("/a", b("new")).await.unwrap();
    assert_eq!((again.create_revision, again.mod_revision), (4, 4));
    assert_eq!(store.delete("/a", None).await.unwrap().mod_revision, 5);
    assert_eq!(store.revision(), 5);
}

#[tokio::test]
async fn revision_survives_reopen_even_after_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = SqliteStore::open(&path).unwrap();
        store.create("/a", b("1")).await.unwrap();
        store.create("/b", b("2")).await.unwrap();
        store.delete("/b", None).await.unwrap();
        store.delete("/a", None).await.unwrap();
        assert_eq!(store.revision(), 4);
        // A second store on the same file is refused while the first is open.
        assert!(matches!(SqliteStore::open(&path), Err(Error::Backend(_))));
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.revision(), 4);
    assert_eq!(store.oldest_revision(), 5);
    let c = store.create("/c", b("3")).await.unwrap();
    assert_eq!(c.mod_revision, 5);
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.get("/c").await.unwrap(), Some(c));
    assert_eq!(store.revision(), 5);
}

#[tokio::test]
async fn list_pages_with_remaining_count() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("db")).unwrap();
    for key in ["/p/a", "/p/b", "/p/c", "/p/d", "/p/e", "/q/a", "/o/z"] {
        store.create(key, b(key)).await.unwrap();
    }
    let all = store.list("/p/", ListOptions::default()).await.unwrap();
    assert_eq!(keys(&all.items), ["/p/a", "/p/b", "/p/c", "/p/d", "/p/e"]);
    assert_eq!((all.revision, all.remaining), (7, 0));

    let mut opts = ListOptions {
        limit: 2,
        ..Default::default()
    };
    let mut pages = Vec::new();
    loop {
        let page = store.list("/p/", opts.clone()).await.unwrap();
        pages.push((keys(&page.items).join(","), page.remaining));
        if page.remaining == 0 {
            break;
        }
        opts.start_after = page.items.last().map(|kv| kv.key.clone());
        opts.revision = Some(page.revision);
    }
    assert_eq!(
        pages,
        [
            ("/p/a,/p/b".into(), 3),
            ("/p/c,/p/d".into(), 1),
            ("/p/e".into(), 0)
        ]
    );
    // A continuation key before the prefix starts at the prefix; one past it yields nothing.
    let from_start = ListOptions {
        start_after: Some("/a".into()),
        ..Default::default()
    };
    assert_eq!(store.list("/p/", from_start).await.unwrap().items.len(), 5);
    let past_end = ListOptions {
        start_after: Some("/p/z".into()),
        ..Default::default()
    };
    assert!(store.list("/p/", past_end).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn list_at_a_past_revision_undoes_newer_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("db")).unwrap();
    store.create("/p/a", b("a1")).await.unwrap(); // 1
    store.create("/p/b", b("b1")).await.unwrap(); // 2
    store.create("/p/c", b("c1")).await.unwrap(); // 3
    store.update("/p/a", b("a2"), 1).await.unwrap(); // 4
    store.delete("/p/b", None).await.unwrap(); // 5
    store.create("/p/d", b("d1")).await.unwrap(); // 6
    store.delete("/p/c", None).await.unwrap(); // 7
    store.create("/p/c", b("c2")).await.unwrap(); // 8
    store.create("/x/other", b("x")).await.unwrap(); // 9

    let at = |revision| {
        let store = store.clone();
        async move {
            let opts = ListOptions {
                revision: Some(revision),
                ..Default::default()
            };
            let list = store.list("/p/", opts).await.unwrap();
            assert_eq!(list.revision, revision);
            list.items
                .iter()
                .map(|kv| format!("{}={}", kv.key, String::from_utf8_lossy(&kv.value)))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(at(0).await, Vec::<String>::new());
    assert_eq!(at(3).await, ["/p/a=a1", "/p/b=b1", "/p/c=c1"]);
    assert_eq!(at(5).await, ["/p/a=a2", "/p/c=c1"]);
    assert_eq!(at(7).await, ["/p/a=a2", "/p/d=d1"]);
    assert_eq!(at(9).await, ["/p/a=a2", "/p/c=c2", "/p/d=d1"]);

    let paged = ListOptions {
        revision: Some(3),
        start_after: Some("/p/a".into()),
        limit: 1,
    };
    let page = store.list("/p/", paged).await.unwrap();
    assert_eq!((keys(&page.items), page.remaining), (vec!["/p/b"], 1));
    assert_eq!(page.items[0].mod_revision, 2);

    let future = ListOptions {
        revision: Some(10),
        ..Default::default()
    };
    assert!(matches!(
        store.list("/p/", future).await,
        Err(Error::FutureRevision {
            requested: 10,
            current: 9
        })
    ));
    store.compact(4).await.unwrap();
    assert_eq!(store.oldest_revision(), 4);
    assert_eq!(at(3).await, ["/p/a=a1", "/p/b=b1", "/p/c=c1"]);
    let compacted = ListOptions {
        revision: Some(2),
        ..Default::default()
    };
    assert!(matches!(
        store.list("/p/", compacted).await,
        Err(Error::Compacted {
            requested: 2,
            oldest: 4
        })
    ));
}

#[tokio::test]
async fn database_is_plain_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = SqliteStore::open(&path).unwrap();
    store.create("/a", b("{\"x\":1}")).await.unwrap();
    store.create("/b", b("2")).await.unwrap();
    store.delete("/b", None).await.unwrap();
    // Readable by another connection while the store is open.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let row: (String, Vec<u8>, i64, i64) = conn
        .query_row("SELECT key, value, create_rev, mod_rev FROM kv", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap();
    assert_eq!(row, ("/a".into(), b"{\"x\":1}".to_vec(), 1, 1));
    let revision: i64 = conn
        .query_row("SELECT value FROM meta WHERE name = 'revision'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(revision, 3);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

/// The commit delay applies under load only: a lone write, or a pair (a pod's status and its
/// Event), commits at once, while many writes arriving together all commit and get
/// consecutive revisions.
#[tokio::test]
async fn only_concurrent_writes_wait_for_the_commit_delay() {
    let dir = tempfile::tempdir().unwrap();
    let options = krust_store::SqliteOptions {
        commit_delay: std::time::Duration::from_millis(300),
        ..Default::default()
    };
    let store = SqliteStore::open_with(&dir.path().join("db"), options).unwrap();
    let started = std::time::Instant::now();
    for i in 0..5 {
        store.create(&format!("/lone/{i}"), b("v")).await.unwrap();
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "lone writes waited for the commit delay: {:?}",
        started.elapsed()
    );

    let store: Arc<dyn Store> = store;
    let started = std::time::Instant::now();
    for i in 0..3 {
        let (first, second) = (format!("/pair/a{i}"), format!("/pair/b{i}"));
        let (x, y) = tokio::join!(store.create(&first, b("v")), store.create(&second, b("v")));
        x.unwrap();
        y.unwrap();
    }
    assert!(
        started.elapsed() < std::time::Duration::from_millis(600),
        "pairs of writes waited for the commit delay: {:?}",
        started.elapsed()
    );
    let writes = (0..50).map(|i| {
        let store = store.clone();
        tokio::spawn(async move { store.create(&format!("/together/{i}"), b("v")).await })
    });
    let mut revisions = Vec::new();
    for w in writes {
        revisions.push(w.await.unwrap().unwrap().mod_revision);
    }
    revisions.sort();
    assert_eq!(revisions, (12..62).collect::<Vec<_>>());
}
