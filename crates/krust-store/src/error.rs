//! Store errors.

use crate::Revision;

/// What can go wrong in a store operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `create` found the key already present.
    #[error("key {0} already exists")]
    AlreadyExists(String),
    /// The key is absent.
    #[error("key {0} not found")]
    NotFound(String),
    /// A conditional write found another revision than the expected one.
    #[error("key {key} is at revision {current}, not {expected}")]
    Conflict {
        key: String,
        expected: Revision,
        current: Revision,
    },
    /// The requested revision has been compacted away (HTTP 410 `Expired` upstream).
    #[error("revision {requested} has been compacted; the oldest available is {oldest}")]
    Compacted {
        requested: Revision,
        oldest: Revision,
    },
    /// The requested revision is in the future.
    #[error("revision {requested} is newer than the current revision {current}")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },
    /// The backend failed (I/O, database corruption, a closed writer).
    #[error("storage backend: {0}")]
    Backend(String),
}

/// Store result.
pub type Result<T> = std::result::Result<T, Error>;
