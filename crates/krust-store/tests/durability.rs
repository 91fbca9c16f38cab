//! Acknowledged writes are durable: under many concurrent writers, and across `kill -9`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use bytes::Bytes;
use krust_store::{ListOptions, SqliteStore, Store};

/// Names the database the child process of the crash test writes to.
const CRASH_DB: &str = "KRUST_STORE_CRASH_DB";
/// Names the round of the crash test (keys are `/crash/<round>/<writer>/<n>`).
const CRASH_ROUND: &str = "KRUST_STORE_CRASH_ROUND";

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn sixty_four_concurrent_writers_are_all_durable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = SqliteStore::open(&path).unwrap();
    let started = Instant::now();
    let tasks: Vec<_> = (0..64)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for i in 0..50 {
                    let key = format!("/w/{w:02}/{i:03}");
                    let kv = store.create(&key, Bytes::from(key.clone())).await.unwrap();
                    acked.push(kv);
                }
                acked
            })
        })
        .collect();
    let mut acked = Vec::new();
    for task in tasks {
        acked.extend(task.await.unwrap());
    }
    eprintln!("3200 writes by 64 writers in {:?}", started.elapsed());
    let mut revisions: Vec<_> = acked.iter().map(|kv| kv.mod_revision).collect();
    revisions.sort_unstable();
    assert_eq!(revisions, (1..=3200).collect::<Vec<_>>());
    drop(store);

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.revision(), 3200);
    let list = store.list("/w/", ListOptions::default()).await.unwrap();
    assert_eq!(list.items.len(), 3200);
    for kv in acked {
        assert_eq!(store.get(&kv.key).await.unwrap(), Some(kv));
    }
}

/// The child side of the crash test: writes until killed, printing each acknowledged key.
/// Does nothing unless the parent set `KRUST_STORE_CRASH_DB`.
#[test]
fn crash_writer_child() {
    let (Ok(path), Ok(round)) = (std::env::var(CRASH_DB), std::env::var(CRASH_ROUND)) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let store = SqliteStore::open(Path::new(&path)).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        for w in 0..16 {
            let (store, tx, round) = (store.clone(), tx.clone(), round.clone());
            tokio::spawn(async move {
                // Bounded, so a child whose parent died does not write forever.
                for i in 0..20_000 {
                    let key = format!("/crash/{round}/{w}/{i}");
                    store.create(&key, Bytes::from(key.clone())).await.unwrap();
                    if tx.send(key).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut stdout = std::io::stdout();
        while let Some(key) = rx.recv().await {
            writeln!(stdout, "acked {key}").unwrap();
            stdout.flush().unwrap();
        }
    });
}

/// Kills the child on drop, so a failing assertion leaves no writer behind.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut acked = BTreeSet::new();
    let mut last_revision = 0;
    for round in 0..3 {
        let child = Command::new(std::env::current_exe().unwrap())
            .args([
                "crash_writer_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CRASH_DB, &path)
            .env(CRASH_ROUND, round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut child = Killed(child);
        let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
        let mut seen = 0;
        // Let it get well into its stream (some hundreds of acknowledgements), then SIGKILL.
        let kill_after = 300 + 200 * round;
        while seen < kill_after {
            let line = lines.next().expect("child exited early").unwrap();
            if let Some(key) = line.strip_prefix("acked ") {
                acked.insert(key.to_owned());
                seen += 1;
            }
        }
        child.0.kill().unwrap();
        // Acknowledgements printed before the kill are still in the pipe.
        for line in lines {
            if let Some(key) = line.unwrap().strip_prefix("acked ") {
                acked.insert(key.to_owned());
            }
        }
        child.0.wait().unwrap();

        let store = SqliteStore::open(&path).unwrap();
        assert!(store.revision() >= acked.len() as i64);
        assert!(store.revision() > last_revision);
        last_revision = store.revision();
        for key in &acked {
            let kv = store.get(key).await.unwrap();
            assert_eq!(
                kv.map(|kv| kv.value),
                Some(Bytes::from(key.clone())),
                "lost {key}"
            );
        }
        eprintln!(
            "round {round}: {} acknowledged keys, revision {last_revision}",
            acked.len()
        );
    }
}
