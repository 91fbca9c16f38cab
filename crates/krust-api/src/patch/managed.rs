//! Reading and writing `metadata.managedFields` entries.

use serde_json::{Map, Value};

use super::fieldset::FieldSet;

/// Who writes: a field manager's name and the subresource the write comes through (`""`
/// for the object itself; `"status"`, `"scale"`…). A managedFields entry is the manager's
/// own only for the same subresource, and records it, as Kubernetes does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Manager<'a> {
    /// The `fieldManager`.
    pub name: &'a str,
    /// The subresource written, `""` for the main resource.
    pub subresource: &'a str,
}

impl<'a> From<&'a str> for Manager<'a> {
    /// A manager writing the main resource.
    fn from(name: &'a str) -> Self {
        Manager {
            name,
            subresource: "",
        }
    }
}

/// The operation of a managedFields entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One managedFields entry with its field set.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub time: String,
    pub subresource: String,
    pub set: FieldSet,
}

impl Entry {
    /// A new entry.
    pub fn new(
        manager: Manager,
        operation: Operation,
        api_version: String,
        time: &str,
        set: FieldSet,
    ) -> Self {
        Entry {
            manager: manager.name.to_owned(),
            operation,
            api_version,
            time: time.to_owned(),
            subresource: manager.subresource.to_owned(),
            set,
        }
    }

    /// Whether `manager` owns this entry when writing with `operation`.
    pub fn is_of(&self, manager: Manager, operation: Operation) -> bool {
        self.manager == manager.name
            && self.subresource == manager.subresource
            && self.operation == operation
    }

    /// The manager as Kubernetes prints it in conflicts: `"kubectl"` for appliers,
    /// `"kubectl-client-side-apply" using apps/v1` for updaters.
    pub fn display(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            out.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == Operation::Update {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }
}

/// The entries of an object's `metadata.managedFields` (entries that do not parse are dropped,
/// as Kubernetes resets managed fields it cannot decode).
pub(super) fn read_entries(object: &Value) -> Vec<Entry> {
    let Some(Value::Array(items)) = object.pointer("/metadata/managedFields") else {
        return Vec::new();
    };
    items.iter().filter_map(read_entry).collect()
}

/// A managedFields entry as read: parsed, or left as written when a write does not change it.
pub(super) enum Held<'a> {
    /// An entry in the form [`write_entries`] gives it (see [`read_held`]).
    Written(&'a Value),
    /// A parsed entry.
    Parsed(Entry),
}

impl Held<'_> {
    /// What entries are ordered by: operation, time, manager, apiVersion, subresource.
    fn order(&self) -> (Operation, &str, &str, &str, &str) {
        match self {
            Held::Parsed(e) => (
                e.operation,
                &e.time,
                &e.manager,
                &e.api_version,
                &e.subresource,
            ),
            Held::Written(item) => {
                let text = |key| item.get(key).and_then(Value::as_str).unwrap_or_default();
                let operation = match text("operation") {
                    "Apply" => Operation::Apply,
                    _ => Operation::Update,
                };
                let (time, manager) = (text("time"), text("manager"));
                (
                    operation,
                    time,
                    manager,
                    text("apiVersion"),
                    text("subresource"),
                )
            }
        }
    }
}

/// The entries of a managedFields list as [`read_entries`] reads them, leaving unparsed those
/// for which `keep` holds that are in the form [`write_entries`] writes (so that writing them
/// back parsed would give them unchanged).
pub(super) fn read_held(items: &[Value], keep: impl Fn(&Value) -> bool) -> Vec<Held<'_>> {
    items
        .iter()
        .filter_map(|item| {
            if is_written(item) && keep(item) {
                Some(Held::Written(item))
            } else {
                read_entry(item).map(Held::Parsed)
            }
        })
        .collect()
}

/// Whether an entry is exactly what [`write_entries`] writes for what [`read_entry`] reads
/// from it, with a non-empty field set.
fn is_written(item: &Value) -> bool {
    let Value::Object(map) = item else {
        return false;
    };
    let text = |key| map.get(key).and_then(Value::as_str);
    let subresource = match text("subresource") {
        Some("") => return false,
        Some(_) => 1,
        None if map.contains_key("subresource") => return false,
        None => 0,
    };
    map.len() == 6 + subresource
        && ["manager", "apiVersion", "time"]
            .iter()
            .all(|key| text(key).is_some())
        && matches!(text("operation"), Some("Apply" | "Update"))
        && text("fieldsType") == Some("FieldsV1")
        && map
            .get("fieldsV1")
            .is_some_and(FieldSet::is_written_fields_v1)
}

fn read_entry(item: &Value) -> Option<Entry> {
    let text = |key: &str| {
        item.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let operation = match item.get("operation")?.as_str()? {
        "Apply" => Operation::Apply,
        "Update" => Operation::Update,
        _ => return None,
    };
    let set = match item.get("fieldsV1") {
        Some(fields) => FieldSet::from_fields_v1(fields).ok()?,
        None => FieldSet::default(),
    };
    Some(Entry {
        manager: text("manager"),
        operation,
        api_version: text("apiVersion"),
        time: text("time"),
        subresource: text("subresource"),
        set,
    })
}

/// Sets `metadata.managedFields` to the non-empty entries, in Kubernetes' order (operation,
/// time, manager, apiVersion, subresource); removes it when there are none.
pub(super) fn write_entries(object: &mut Value, entries: Vec<Entry>) {
    write_held(object, entries.into_iter().map(Held::Parsed).collect());
}

/// [`write_entries`] of entries some of which are still as written.
pub(super) fn write_held(object: &mut Value, mut entries: Vec<Held<'_>>) {
    entries.retain(|e| match e {
        Held::Parsed(e) => !e.set.is_empty(),
        Held::Written(_) => true,
    });
    entries.sort_by(|a, b| a.order().cmp(&b.order()));
    let Value::Object(root) = object else { return };
    let meta = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(meta) = meta else { return };
    if entries.is_empty() {
        meta.remove("managedFields");
        return;
    }
    let list = entries
        .into_iter()
        .map(|e| {
            let e = match e {
                Held::Written(item) => return item.clone(),
                Held::Parsed(e) => e,
            };
            let mut entry = Map::new();
            entry.insert("manager".into(), e.manager.into());
            entry.insert("operation".into(), e.operation.as_str().into());
            entry.insert("apiVersion".into(), e.api_version.into());
            entry.insert("time".into(), e.time.into());
            entry.insert("fieldsType".into(), "FieldsV1".into());
            entry.insert("fieldsV1".into(), e.set.to_fields_v1());
            if !e.subresource.is_empty() {
                entry.insert("subresource".into(), e.subresource.into());
            }
            Value::Object(entry)
        })
        .collect();
    meta.insert("managedFields".into(), Value::Array(list));
}
