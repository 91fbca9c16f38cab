//! The SQLite file: schema, durability settings, loading at open, writing a batch.
//!
//! Two tables, readable with the `sqlite3` tool:
//! - `kv(key TEXT PRIMARY KEY, value BLOB, create_rev INTEGER, mod_rev INTEGER)`: the keys
//!   as of the latest revision;
//! - `meta(name TEXT PRIMARY KEY, value INTEGER)`: `revision` (the latest revision, kept so
//!   that it never goes backwards, even when the newest writes were deletes) and
//!   `schema_version`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use rusqlite::{Connection, TransactionBehavior, params};

use crate::{Error, Event, EventType, KeyValue, Result, Revision};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kv (
    key        TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    create_rev INTEGER NOT NULL,
    mod_rev    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (name, value) VALUES ('revision', 0), ('schema_version', 1);
";

const UPSERT: &str = "INSERT INTO kv (key, value, create_rev, mod_rev) VALUES (?1, ?2, ?3, ?4)
    ON CONFLICT (key) DO UPDATE
    SET value = excluded.value, create_rev = excluded.create_rev, mod_rev = excluded.mod_rev";

const DELETE: &str = "DELETE FROM kv WHERE key = ?1";

const SET_REVISION: &str = "UPDATE meta SET value = ?1 WHERE name = 'revision'";

/// Maps a SQLite failure to a store error.
pub(crate) fn backend(err: rusqlite::Error) -> Error {
    Error::Backend(err.to_string())
}

/// Opens (creating if needed) the database in WAL mode with a full fsync at every commit.
pub(crate) fn open(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).map_err(backend)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(backend)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Backend(format!(
            "{}: journal mode is {mode}, not WAL",
            path.display()
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(backend)?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(backend)?;
    conn.execute_batch(SCHEMA).map_err(backend)?;
    Ok(conn)
}

/// Reads every key and the latest revision.
pub(crate) fn load(conn: &Connection) -> Result<(BTreeMap<String, KeyValue>, Revision)> {
    let mut revision: Revision = conn
        .query_row(
            "SELECT value FROM meta WHERE name = 'revision'",
            [],
            |row| row.get(0),
        )
        .map_err(backend)?;
    let mut kvs = BTreeMap::new();
    let mut stmt = conn
        .prepare("SELECT key, value, create_rev, mod_rev FROM kv")
        .map_err(backend)?;
    let rows = stmt
        .query_map([], |row| {
            Ok(KeyValue {
                key: row.get(0)?,
                value: Bytes::from(row.get::<_, Vec<u8>>(1)?),
                create_revision: row.get(2)?,
                mod_revision: row.get(3)?,
            })
        })
        .map_err(backend)?;
    for kv in rows {
        let kv = kv.map_err(backend)?;
        revision = revision.max(kv.mod_revision);
        kvs.insert(kv.key.clone(), kv);
    }
    Ok((kvs, revision))
}

/// Writes a batch of events in one transaction; durable when this returns `Ok`.
pub(crate) fn persist(conn: &mut Connection, events: &[Event]) -> Result<()> {
    let Some(last) = events.last() else {
        return Ok(());
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend)?;
    {
        let mut upsert = tx.prepare_cached(UPSERT).map_err(backend)?;
        let mut delete = tx.prepare_cached(DELETE).map_err(backend)?;
        for event in events {
            let kv = &event.kv;
            match event.kind {
                EventType::Deleted => delete.execute([&kv.key]),
                EventType::Created | EventType::Modified => upsert.execute(params![
                    kv.key,
                    &kv.value[..],
                    kv.create_revision,
                    kv.mod_revision
                ]),
            }
            .map_err(backend)?;
        }
        tx.execute(SET_REVISION, [last.kv.mod_revision])
            .map_err(backend)?;
    }
    tx.commit().map_err(backend)
}
