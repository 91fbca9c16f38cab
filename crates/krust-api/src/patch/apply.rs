//! Server-side apply (`application/apply-patch+yaml`) and `metadata.managedFields` tracking.
//!
//! [`apply`] merges an applied configuration into the live object and records the applier's
//! fields; fields it applied before but no longer applies are removed unless another manager
//! owns them; a field owned by another manager that would change is a conflict unless forced
//! (forcing takes the field over). [`update_managed_fields`] records the fields a non-apply
//! write (create, update, patch) changed, taking them from their previous owners.

use serde_json::{Map, Value, json};

use super::apply_changes::{Changes, changes};
use super::apply_fields::{field_set, lookup, remove};
use super::apply_merge::merge_value;
use super::fieldset::{FieldPath, FieldSet, display_path};
use super::managed::{
    Entry, Held, Manager, Operation, read_entries, read_held, write_entries, write_held,
};
use super::strategic::{Field, Node};
use crate::schema;

/// One field owned by another manager that an apply would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyConflict {
    /// The owner as Kubernetes prints it: `"kubectl-client-side-apply" using apps/v1`.
    pub manager: String,
    /// The field path, e.g. `.spec.replicas`.
    pub field: String,
}

/// Why an apply (or managed-fields update) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// 409: fields owned by other managers would change (`Status.details.causes` lists them
    /// with type `FieldManagerConflict`, message `conflict with <manager>`, field `<path>`).
    #[error("{message}")]
    Conflict {
        /// The Kubernetes message, e.g. `Apply failed with 1 conflict: conflict with ...`.
        message: String,
        /// Every conflicting field.
        conflicts: Vec<ApplyConflict>,
    },
    /// 400: the request itself is malformed (e.g. the configuration sets managedFields).
    #[error("{0}")]
    BadRequest(String),
    /// 422: the configuration does not fit the schema (e.g. a list item without its key).
    #[error("{0}")]
    Invalid(String),
}

impl ApplyError {
    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        match self {
            ApplyError::Conflict { .. } => 409,
            ApplyError::BadRequest(_) => 400,
            ApplyError::Invalid(_) => 422,
        }
    }

    /// The Status `reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            ApplyError::Conflict { .. } => "Conflict",
            ApplyError::BadRequest(_) => "BadRequest",
            ApplyError::Invalid(_) => "Invalid",
        }
    }
}

/// The manager Kubernetes invents for fields of an object that has no managedFields.
const BEFORE_FIRST_APPLY: &str = "before-first-apply";

pub(super) fn root(definition: &str) -> Node {
    Node::of_definition(schema::definitions(), definition)
}

/// A copy of `object` without `metadata.managedFields` (which is not copied).
pub(super) fn without_managed_fields(object: &Value) -> Value {
    let Value::Object(root) = object else {
        return object.clone();
    };
    let copy = |(key, value): (&String, &Value)| (key.clone(), value.clone());
    let root = root.iter().map(|(key, value)| match value {
        Value::Object(meta) if key == "metadata" => {
            let meta = meta.iter().filter(|(k, _)| *k != "managedFields");
            (key.clone(), Value::Object(meta.map(copy).collect()))
        }
        _ => copy((key, value)),
    });
    Value::Object(root.collect::<Map<_, _>>())
}

pub(super) fn api_version(object: &Value) -> String {
    object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Whether the value at `path` differs in a way that counts as a change of that field:
/// leaves compare values, members with fields below only count being added.
pub(super) fn changed(set: &FieldSet, path: &FieldPath, before: &Value, after: &Value) -> bool {
    let (old, new) = (lookup(before, path), lookup(after, path));
    if set.has_children(path) {
        old.is_none() && new.is_some()
    } else {
        // A map owned as a whole (say `f:data` of an empty map) is not changed by keys added
        // inside it: only a value that changes is.
        let both_maps = old.is_some_and(Value::is_object) && new.is_some_and(Value::is_object);
        new.is_some() && old != new && !both_maps
    }
}

/// Applies `applied` (a full or partial object) for `manager` to `current` (the live object,
/// `None` on create) of the given definition. Returns the new object with
/// `metadata.managedFields` updated; `now` is the RFC 3339 time to record.
pub fn apply<'a>(
    current: Option<&Value>,
    applied: &Value,
    manager: impl Into<Manager<'a>>,
    force: bool,
    definition: &str,
    now: &str,
) -> Result<Value, ApplyError> {
    if !applied.is_object() {
        return Err(ApplyError::BadRequest(
            "the applied configuration must be an object".into(),
        ));
    }
    if applied
        .pointer("/metadata/managedFields")
        .is_some_and(|m| !m.is_null())
    {
        return Err(ApplyError::BadRequest(
            "metadata.managedFields must be nil".into(),
        ));
    }
    let manager = manager.into();
    let node = root(definition);
    let live = current
        .map(without_managed_fields)
        .unwrap_or_else(|| json!({}));
    let mut entries = current.map(read_entries).unwrap_or_default();
    if current.is_some() && entries.is_empty() {
        let set = field_set(&live, node).map_err(ApplyError::Invalid)?;
        entries.push(Entry::new(
            BEFORE_FIRST_APPLY.into(),
            Operation::Update,
            api_version(&live),
            now,
            set,
        ));
    }
    let applied_set = field_set(applied, node).map_err(ApplyError::Invalid)?;
    let mut merged = merge_value(Some(live.clone()), applied.clone(), &Field::plain(node))
        .map_err(ApplyError::Invalid)?;

    let mine = entries
        .iter()
        .position(|e| e.is_of(manager, Operation::Apply));
    if let Some(last) = mine.map(|i| entries[i].set.clone()) {
        let mut kept = applied_set.clone();
        entries
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != mine)
            .for_each(|(_, e)| kept.union(&e.set));
        prune(&mut merged, &last.difference(&applied_set), &kept);
    }

    let mut conflicts = Vec::new();
    for (i, entry) in entries.iter_mut().enumerate() {
        if Some(i) == mine {
            continue;
        }
        let mut lost = FieldSet::default();
        for path in entry.set.paths() {
            if changed(&entry.set, &path, &live, &merged) {
                conflicts.push(ApplyConflict {
                    manager: entry.display(),
                    field: display_path(&path),
                });
                lost.insert(&path);
            } else if lookup(&live, &path).is_some() && lookup(&merged, &path).is_none() {
                lost.insert(&path);
            }
        }
        entry.set = entry.set.difference(&lost);
    }
    if !force && !conflicts.is_empty() {
        return Err(conflict_error(conflicts));
    }

    let changed_object = merged != live;
    match mine {
        Some(i) => {
            entries[i].set = applied_set;
            entries[i].api_version = api_version(applied);
            if changed_object {
                entries[i].time = now.to_owned();
            }
        }
        None => entries.push(Entry::new(
            manager,
            Operation::Apply,
            api_version(applied),
            now,
            applied_set,
        )),
    }
    write_entries(&mut merged, entries);
    Ok(merged)
}

/// Removes the fields in `to_remove` that nobody in `kept` owns (nor anything below them),
/// then maps left empty by the removal.
fn prune(object: &mut Value, to_remove: &FieldSet, kept: &FieldSet) {
    for path in to_remove.paths() {
        if kept.contains_prefix(&path) || !remove(object, &path) {
            continue;
        }
        let mut parent = path;
        while parent.pop().is_some() && !parent.is_empty() && !kept.contains_prefix(&parent) {
            if lookup(object, &parent).is_some_and(|v| v.as_object().is_some_and(|m| m.is_empty()))
            {
                remove(object, &parent);
            } else {
                break;
            }
        }
    }
}

fn conflict_error(conflicts: Vec<ApplyConflict>) -> ApplyError {
    let message = if let [only] = conflicts.as_slice() {
        format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            only.manager, only.field
        )
    } else {
        let mut managers: Vec<&str> = conflicts.iter().map(|c| c.manager.as_str()).collect();
        managers.sort_unstable();
        managers.dedup();
        let mut lines = Vec::new();
        for manager in managers {
            lines.push(format!("conflicts with {manager}:"));
            lines.extend(
                conflicts
                    .iter()
                    .filter(|c| c.manager == manager)
                    .map(|c| format!("- {}", c.field)),
            );
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    ApplyError::Conflict { message, conflicts }
}

/// Records a non-apply write (operation `Update`) by `manager`: the fields that `new` adds or
/// changes relative to `old` (`None` on create) become the manager's, taken from any other
/// owner; removed fields are dropped from every owner. Returns `new` with
/// `metadata.managedFields` set. A request carrying `managedFields: [{}]` clears them; one
/// carrying other non-empty managedFields has them used as the starting point.
pub fn update_managed_fields<'a>(
    old: Option<&Value>,
    mut new: Value,
    manager: impl Into<Manager<'a>>,
    definition: &str,
    now: &str,
) -> Result<Value, ApplyError> {
    let provided = new
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .and_then(|meta| meta.remove("managedFields"));
    let provided = provided.as_ref().and_then(Value::as_array);
    if provided.is_some_and(|m| m.len() == 1 && m[0].as_object().is_some_and(|e| e.is_empty())) {
        return Ok(new);
    }
    let manager = manager.into();
    let mut result = new;
    let node = root(definition);
    let Changes { taken, gone } = match changes(old, &result, node) {
        Ok(changes) => changes,
        Err(_) => changes_by_lookup(old, &result, node)?,
    };
    let mut dropped = taken.clone();
    dropped.union(&gone);
    let version = api_version(&result);
    let mine = |manager_of: &str, subresource: &str, operation: Operation, api_version: &str| {
        !taken.is_empty()
            && manager_of == manager.name
            && subresource == manager.subresource
            && operation == Operation::Update
            && api_version == version
    };
    // Entries the write leaves alone stay as written; the others are parsed and changed.
    let source = match provided {
        Some(list) if !list.is_empty() => Some(list.as_slice()),
        _ => old
            .and_then(|o| o.pointer("/metadata/managedFields"))
            .and_then(Value::as_array)
            .map(Vec::as_slice),
    };
    let mut entries = source.map_or_else(Vec::new, |source| {
        read_held(source, |item| {
            let text = |key| item[key].as_str().unwrap_or_default();
            let operation = match text("operation") {
                "Apply" => Operation::Apply,
                _ => Operation::Update,
            };
            !mine(
                text("manager"),
                text("subresource"),
                operation,
                text("apiVersion"),
            ) && !dropped.meets(&item["fieldsV1"])
        })
    });
    if !dropped.is_empty() {
        for entry in &mut entries {
            if let Held::Parsed(entry) = entry {
                entry.set.subtract(&dropped);
            }
        }
    }
    if !taken.is_empty() {
        // The manager's entry, if any, was parsed (it is `mine`).
        let own = entries.iter_mut().find_map(|e| match e {
            Held::Parsed(e) if mine(&e.manager, &e.subresource, e.operation, &e.api_version) => {
                Some(e)
            }
            _ => None,
        });
        match own {
            Some(entry) => {
                entry.set.union(&taken);
                entry.time = now.to_owned();
            }
            None => entries.push(Held::Parsed(Entry::new(
                manager,
                Operation::Update,
                version,
                now,
                taken,
            ))),
        }
    }
    write_held(&mut result, entries);
    Ok(result)
}

/// What [`changes`] finds, by building the field sets of both objects and looking every path
/// up in both: slower, but it takes any objects (and tells why one gives no field set).
/// `new` has no managedFields.
pub(super) fn changes_by_lookup(
    old: Option<&Value>,
    new: &Value,
    node: Node,
) -> Result<Changes, ApplyError> {
    let before = old.map(without_managed_fields).unwrap_or_else(|| json!({}));
    let old_set = field_set(&before, node).map_err(ApplyError::Invalid)?;
    let new_set = field_set(new, node).map_err(ApplyError::Invalid)?;
    let mut taken = FieldSet::default();
    for path in new_set.paths() {
        if changed(&new_set, &path, &before, new) {
            taken.insert(&path);
        }
    }
    let mut gone = FieldSet::default();
    for path in old_set.paths() {
        if lookup(new, &path).is_none() {
            gone.insert(&path);
        }
    }
    Ok(Changes { taken, gone })
}
