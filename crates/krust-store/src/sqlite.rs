//! `SqliteStore`: the embedded store, one SQLite file plus an in-memory copy and watch window.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::ops::Op;
use crate::state::{Shared, State};
use crate::writer::{Request, Writer};
use crate::{Error, KeyValue, ListOptions, ListResult, Result, Revision, Store, WatchStream};

/// Tuning for [`SqliteStore`].
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// How many recent events the watch window keeps (lists and watches can start that far
    /// back).
    pub window_size: usize,
    /// How many undelivered events a watcher may have queued, beyond its replay, before it
    /// is dropped (its stream closes and it must resume from the last revision it saw).
    pub watch_buffer: usize,
    /// The most writes committed in one transaction.
    pub max_batch: usize,
    /// Under load (a batch found four writes or more waiting), how long the writer waits
    /// for more before it commits, so that one fsync serves more writes (PostgreSQL's
    /// `commit_delay` with `commit_siblings`). A lone write, or two or three, never waits.
    pub commit_delay: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            window_size: 10_000,
            watch_buffer: 16_384,
            max_batch: 1_024,
            commit_delay: Duration::from_millis(1),
        }
    }
}

/// The embedded store: SQLite in WAL mode with group commit, reads served from memory.
///
/// The database is locked against a second store opening it (through a `<file>-lock` file)
/// until this value is dropped; dropping waits for the writer thread to finish.
#[derive(Debug)]
pub struct SqliteStore {
    shared: Arc<Shared>,
    requests: Option<mpsc::Sender<Request>>,
    writer: Option<JoinHandle<()>>,
}

impl SqliteStore {
    /// Opens (or creates) the store at `path` with the default options.
    pub fn open(path: &Path) -> Result<Arc<Self>> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Opens (or creates) the store at `path`, loading every key into memory.
    ///
    /// Blocks while it reads the database. Fails with `Backend` if another store holds the
    /// database (after waiting up to two seconds for it to let go).
    pub fn open_with(path: &Path, options: SqliteOptions) -> Result<Arc<Self>> {
        let lock = lock(path)?;
        let conn = crate::db::open(path)?;
        let (kvs, revision) = crate::db::load(&conn)?;
        tracing::info!(path = %path.display(), keys = kvs.len(), revision, "store opened");
        let state = State::new(kvs, revision, options.window_size, options.watch_buffer);
        let shared = Arc::new(Shared::new(state));
        let (tx, rx) = mpsc::channel();
        let writer = Writer {
            conn,
            shared: shared.clone(),
            requests: rx,
            max_batch: options.max_batch.max(1),
            commit_delay: options.commit_delay,
            _lock: lock,
        };
        let writer = std::thread::Builder::new()
            .name("krust-store-writer".into())
            .spawn(move || writer.run())
            .map_err(|err| Error::Backend(format!("spawning the store writer: {err}")))?;
        Ok(Arc::new(Self {
            shared,
            requests: Some(tx),
            writer: Some(writer),
        }))
    }

    /// Hands a write to the writer thread and waits for its durable outcome.
    async fn write(&self, op: Op) -> Result<KeyValue> {
        let stopped = || Error::Backend("the store writer has stopped".into());
        let (reply, outcome) = oneshot::channel();
        let requests = self.requests.as_ref().ok_or_else(stopped)?;
        requests
            .send(Request { op, reply })
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.requests = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// Takes an exclusive lock on `<path>-lock`, so two stores never write one database.
///
/// A lock can outlive its store for a moment: a child process forked elsewhere in this
/// process holds a copy of the descriptor until it calls `exec`. So a busy lock is retried
/// for a short while before giving up.
fn lock(path: &Path) -> Result<File> {
    const PATIENCE: Duration = Duration::from_secs(2);
    let mut name = path.as_os_str().to_owned();
    name.push("-lock");
    let lock_path = PathBuf::from(name);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|err| Error::Backend(format!("{}: {err}", lock_path.display())))?;
    let deadline = Instant::now() + PATIENCE;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(Error::Backend(format!(
                    "{} is in use by another krust store",
                    path.display()
                )));
            }
            Err(TryLockError::Error(err)) => {
                return Err(Error::Backend(format!("{}: {err}", lock_path.display())));
            }
        }
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn revision(&self) -> Revision {
        self.shared.read().revision()
    }

    fn oldest_revision(&self) -> Revision {
        self.shared.read().oldest()
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        Ok(self.shared.read().get(key).cloned())
    }

    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult> {
        self.shared.read().list(prefix, &opts)
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        let key = key.to_owned();
        self.write(Op::Create { key, value }).await
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue> {
        let key = key.to_owned();
        self.write(Op::Update {
            key,
            value,
            expected,
        })
        .await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        let key = key.to_owned();
        self.write(Op::Delete { key, expected }).await
    }

    fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        self.shared.write().watch(prefix, after)
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.shared.write().compact(revision)
    }
}
