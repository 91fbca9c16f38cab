//! Write operations and their preconditions, as pure functions of the key's current value.

use bytes::Bytes;

use crate::{Error, Event, EventType, KeyValue, Result, Revision};

/// One requested write.
#[derive(Debug)]
pub(crate) enum Op {
    /// Create the key; it must be absent.
    Create { key: String, value: Bytes },
    /// Replace the key; it must be at revision `expected`.
    Update {
        key: String,
        value: Bytes,
        expected: Revision,
    },
    /// Delete the key; it must exist and, if `expected` is given, be at that revision.
    Delete {
        key: String,
        expected: Option<Revision>,
    },
}

impl Op {
    /// The key the operation writes.
    pub(crate) fn key(&self) -> &str {
        match self {
            Op::Create { key, .. } | Op::Update { key, .. } | Op::Delete { key, .. } => key,
        }
    }

    /// Checks the precondition against the key's `current` value and, if it holds, returns
    /// the event that performs the write at `revision`.
    pub(crate) fn apply(&self, current: Option<&KeyValue>, revision: Revision) -> Result<Event> {
        match (self, current) {
            (Op::Create { key, .. }, Some(_)) => Err(Error::AlreadyExists(key.clone())),
            (Op::Create { key, value }, None) => Ok(Event {
                kind: EventType::Created,
                kv: KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                    create_revision: revision,
                    mod_revision: revision,
                },
                prev: None,
            }),
            (Op::Update { key, .. } | Op::Delete { key, .. }, None) => {
                Err(Error::NotFound(key.clone()))
            }
            (
                Op::Update {
                    key,
                    value,
                    expected,
                },
                Some(old),
            ) => {
                check(key, Some(*expected), old)?;
                Ok(Event {
                    kind: EventType::Modified,
                    kv: KeyValue {
                        key: key.clone(),
                        value: value.clone(),
                        create_revision: old.create_revision,
                        mod_revision: revision,
                    },
                    prev: Some(old.clone()),
                })
            }
            (Op::Delete { key, expected }, Some(old)) => {
                check(key, *expected, old)?;
                Ok(Event {
                    kind: EventType::Deleted,
                    kv: KeyValue {
                        mod_revision: revision,
                        ..old.clone()
                    },
                    prev: Some(old.clone()),
                })
            }
        }
    }
}

/// Fails with `Conflict` unless `old` is at the `expected` revision (when one is given).
fn check(key: &str, expected: Option<Revision>, old: &KeyValue) -> Result<()> {
    match expected {
        Some(expected) if expected != old.mod_revision => Err(Error::Conflict {
            key: key.to_owned(),
            expected,
            current: old.mod_revision,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(rev: Revision) -> KeyValue {
        KeyValue {
            key: "/k".into(),
            value: Bytes::from_static(b"old"),
            create_revision: 1,
            mod_revision: rev,
        }
    }

    #[test]
    fn preconditions() {
        let create = Op::Create {
            key: "/k".into(),
            value: Bytes::new(),
        };
        assert!(matches!(
            create.apply(Some(&kv(3)), 4),
            Err(Error::AlreadyExists(_))
        ));
        let update = Op::Update {
            key: "/k".into(),
            value: Bytes::from_static(b"new"),
            expected: 2,
        };
        assert!(matches!(update.apply(None, 4), Err(Error::NotFound(_))));
        assert!(matches!(
            update.apply(Some(&kv(3)), 4),
            Err(Error::Conflict {
                expected: 2,
                current: 3,
                ..
            })
        ));
        let event = update.apply(Some(&kv(2)), 4).unwrap();
        assert_eq!((event.kv.create_revision, event.kv.mod_revision), (1, 4));
        let delete = Op::Delete {
            key: "/k".into(),
            expected: None,
        };
        let event = delete.apply(Some(&kv(2)), 5).unwrap();
        assert_eq!(event.kind, EventType::Deleted);
        assert_eq!(event.kv.value, Bytes::from_static(b"old"));
        assert_eq!(event.kv.mod_revision, 5);
        assert_eq!(event.prev, Some(kv(2)));
    }
}
