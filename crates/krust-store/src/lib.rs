//! The krust store: a key-value store with etcd semantics.
//!
//! Every write gets the next value of one global, monotonic revision, which the API server
//! exposes as `resourceVersion`. Writes are conditional on the revision a client read
//! (optimistic concurrency), lists can be read at a past revision still in the watch window,
//! and watches resume from any revision in that window.
//!
//! [`SqliteStore`] is the embedded backend: one SQLite file written by group commit, with the
//! current keys and a window of recent events kept in memory.
#![forbid(unsafe_code)]

mod db;
mod error;
mod ops;
mod sqlite;
mod state;
mod types;
mod window;
mod writer;

pub use error::{Error, Result};
pub use sqlite::{SqliteOptions, SqliteStore};
pub use types::{
    Event, EventType, KeyValue, ListOptions, ListResult, Revision, Store, WatchStream,
};
