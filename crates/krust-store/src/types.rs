//! The `Store` trait and the values it traffics in.

use bytes::Bytes;
use tokio::sync::mpsc;

/// A store revision: etcd's `mod_revision`, Kubernetes' `resourceVersion`.
pub type Revision = i64;

/// One stored key with its value and revisions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// The revision at which the key was created.
    pub create_revision: Revision,
    /// The revision of the last write to the key (for a delete event: the delete's revision).
    pub mod_revision: Revision,
}

/// What happened to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Created,
    Modified,
    Deleted,
}

/// One change, as delivered to watchers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventType,
    /// The key after the change. For `Deleted`, the last value, with `mod_revision` set to
    /// the revision of the delete.
    pub kv: KeyValue,
    /// The key before the change (`None` for `Created`).
    pub prev: Option<KeyValue>,
}

/// How to list a key range.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    /// Read at this revision (must still be in the watch window); `None` reads the latest.
    pub revision: Option<Revision>,
    /// Start strictly after this key (for continuation).
    pub start_after: Option<String>,
    /// At most this many items; `0` means no limit.
    pub limit: usize,
}

/// One page of a list.
#[derive(Clone, Debug)]
pub struct ListResult {
    pub items: Vec<KeyValue>,
    /// The revision the list was read at.
    pub revision: Revision,
    /// How many more keys match after this page (0 when the list is complete).
    pub remaining: usize,
}

/// Events in revision order. The channel closes when the watcher fell too far behind or
/// the store shut down; the watcher then resumes from the last revision it saw.
pub type WatchStream = mpsc::Receiver<Event>;

/// A key-value store with etcd semantics.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// The latest committed revision.
    fn revision(&self) -> Revision;

    /// The oldest revision a list or watch may start from.
    fn oldest_revision(&self) -> Revision;

    /// Reads one key at the latest revision.
    async fn get(&self, key: &str) -> crate::Result<Option<KeyValue>>;

    /// Lists the keys starting with `prefix`, in key order.
    async fn list(&self, prefix: &str, opts: ListOptions) -> crate::Result<ListResult>;

    /// Creates `key`; fails with `AlreadyExists` if it is present.
    async fn create(&self, key: &str, value: Bytes) -> crate::Result<KeyValue>;

    /// Replaces `key` if its `mod_revision` is `expected`; `Conflict` otherwise.
    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> crate::Result<KeyValue>;

    /// Deletes `key`, if `expected` is given only when its `mod_revision` matches.
    /// Returns the deleted key with `mod_revision` set to the delete's revision.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> crate::Result<KeyValue>;

    /// Streams every change to keys under `prefix` with a revision greater than `after`.
    /// Fails with `Compacted` if `after` is older than `oldest_revision() - 1`.
    fn watch(&self, prefix: &str, after: Revision) -> crate::Result<WatchStream>;

    /// Forgets history before `revision`: lists and watches may no longer start there.
    async fn compact(&self, revision: Revision) -> crate::Result<()>;
}
