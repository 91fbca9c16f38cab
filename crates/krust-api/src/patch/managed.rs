//! Reading and writing `metadata.managedFields` entries.

use serde_json::{Map, Value};

use super::fieldset::FieldSet;

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
    /// A new entry (no subresource).
    pub fn new(
        manager: &str,
        operation: Operation,
        api_version: String,
        time: &str,
        set: FieldSet,
    ) -> Self {
        Entry {
            manager: manager.to_owned(),
            operation,
            api_version,
            time: time.to_owned(),
            subresource: String::new(),
            set,
        }
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
pub(super) fn write_entries(object: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.set.is_empty());
    entries.sort_by(|a, b| {
        (
            a.operation,
            &a.time,
            &a.manager,
            &a.api_version,
            &a.subresource,
        )
            .cmp(&(
                b.operation,
                &b.time,
                &b.manager,
                &b.api_version,
                &b.subresource,
            ))
    });
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
