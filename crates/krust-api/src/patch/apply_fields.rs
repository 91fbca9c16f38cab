//! Server-side apply: the field set of an object, and values found by field path.
//!
//! The rules are structured-merge-diff's (`ToFieldSet`): scalars, atomic lists, atomic structs
//! and maps (`x-kubernetes-map-type: atomic`), empty maps and nulls are leaves; items of
//! associative lists (`x-kubernetes-list-type: map`) are `k:{keys}` members with their fields
//! below; items of sets are `v:<value>` members; map entries (labels, data) are members.

use std::sync::LazyLock;

use serde_json::{Map, Value};

use super::fieldset::{FieldPath, FieldSet};
use super::strategic::{Field, Node};

/// Fields Kubernetes never records in managedFields (its "strip meta" set).
pub(super) const STRIPPED: &[&[&str]] = &[
    &["f:apiVersion"],
    &["f:kind"],
    &["f:metadata"],
    &["f:metadata", "f:name"],
    &["f:metadata", "f:namespace"],
    &["f:metadata", "f:creationTimestamp"],
    &["f:metadata", "f:selfLink"],
    &["f:metadata", "f:uid"],
    &["f:metadata", "f:clusterName"],
    &["f:metadata", "f:generation"],
    &["f:metadata", "f:managedFields"],
    &["f:metadata", "f:resourceVersion"],
];

/// How a list is identified item by item.
pub(super) enum ListKind {
    /// An associative list with these key fields.
    Map(Vec<&'static str>),
    /// A set of scalars.
    Set,
    /// Replaced as a whole.
    Atomic,
}

/// The list kind of a field, from its `x-kubernetes-list-type` (or patch strategy).
pub(super) fn list_kind(field: &Field) -> ListKind {
    let Some(prop) = &field.prop else {
        return ListKind::Atomic;
    };
    let keys = || {
        if prop.list_map_keys.is_empty() {
            prop.merge_key.into_iter().collect()
        } else {
            prop.list_map_keys.clone()
        }
    };
    match prop.list_type {
        Some("map") => ListKind::Map(keys()),
        Some("set") => ListKind::Set,
        Some(_) => ListKind::Atomic,
        None if prop.merges() && prop.merge_key.is_some() => ListKind::Map(keys()),
        None if prop.merges() => ListKind::Set,
        None => ListKind::Atomic,
    }
}

/// Whether a map value at this field is replaced as a whole.
pub(super) fn atomic_map(field: &Field) -> bool {
    field.node.is_atomic()
        || field
            .prop
            .as_ref()
            .is_some_and(|p| p.map_type == Some("atomic"))
}

static DEFAULT_PROTOCOL: LazyLock<Value> = LazyLock::new(|| Value::from("TCP"));

/// Key fields Kubernetes defaults, so items may omit them.
fn key_default(key: &str) -> Option<&'static Value> {
    (key == "protocol").then(|| &*DEFAULT_PROTOCOL)
}

/// The value of key field `key` of an associative list item, as [`key_element`] takes it:
/// its value unless absent or `null`, else the default.
pub(super) fn key_value<'a>(item: &'a Value, key: &str) -> Option<&'a Value> {
    item.get(key)
        .filter(|v| !v.is_null())
        .or_else(|| key_default(key))
}

/// The `k:{...}` element of an associative list item.
pub(super) fn key_element(item: &Value, keys: &[&str]) -> Result<String, String> {
    if !item.is_object() {
        return Err(format!(
            "expected an object in an associative list, got {item}"
        ));
    }
    let mut key = Map::new();
    for name in keys {
        let value = key_value(item, name).cloned().ok_or_else(|| {
            format!("associative list with keys has an element that omits key field {name:?} (and doesn't have default value)")
        })?;
        key.insert((*name).to_owned(), value);
    }
    Ok(format!("k:{}", Value::Object(key)))
}

/// The `v:<json>` element of a set item.
pub(super) fn value_element(item: &Value) -> String {
    format!("v:{item}")
}

/// The field set of an object, without the fields Kubernetes strips.
pub(super) fn field_set(object: &Value, root: Node) -> Result<FieldSet, String> {
    let mut set = FieldSet::default();
    if let Value::Object(map) = object {
        walk_map(map, root, &mut Vec::new(), &mut set)?;
    }
    let mut stripped = FieldSet::default();
    for path in STRIPPED {
        stripped.insert(&path.iter().map(|e| (*e).to_owned()).collect::<Vec<_>>());
    }
    Ok(set.difference(&stripped))
}

fn walk_map(
    map: &Map<String, Value>,
    node: Node,
    path: &mut FieldPath,
    set: &mut FieldSet,
) -> Result<(), String> {
    for (key, value) in map {
        let field = node.field(key);
        path.push(format!("f:{key}"));
        // Map entries and fields the schema does not know are members themselves.
        if field.prop.is_none() {
            set.insert(path);
        }
        walk_value(value, &field, path, set)?;
        path.pop();
    }
    Ok(())
}

fn walk_value(
    value: &Value,
    field: &Field,
    path: &mut FieldPath,
    set: &mut FieldSet,
) -> Result<(), String> {
    match value {
        Value::Object(map) if !map.is_empty() && !atomic_map(field) => {
            walk_map(map, field.node, path, set)
        }
        Value::Array(items) => match list_kind(field) {
            ListKind::Map(keys) => {
                for item in items {
                    path.push(key_element(item, &keys)?);
                    set.insert(path);
                    if let Value::Object(map) = item
                        && !field.node.is_atomic()
                    {
                        walk_map(map, field.node, path, set)?;
                    }
                    path.pop();
                }
                Ok(())
            }
            ListKind::Set => {
                for item in items {
                    path.push(value_element(item));
                    set.insert(path);
                    path.pop();
                }
                Ok(())
            }
            ListKind::Atomic => {
                set.insert(path);
                Ok(())
            }
        },
        _ => {
            set.insert(path);
            Ok(())
        }
    }
}

/// Whether a list item matches a `k:`, `v:` or `i:` element.
fn item_matches(item: &Value, index: usize, element: &str) -> bool {
    let (kind, rest) = element.split_at(2);
    match kind {
        "k:" => match serde_json::from_str::<Map<String, Value>>(rest) {
            Ok(keys) => keys
                .iter()
                .all(|(k, v)| item.get(k).or_else(|| key_default(k)) == Some(v)),
            Err(_) => false,
        },
        "v:" => serde_json::from_str::<Value>(rest).is_ok_and(|v| &v == item),
        "i:" => rest.parse::<usize>().is_ok_and(|i| i == index),
        _ => false,
    }
}

fn child<'a>(value: &'a Value, element: &str) -> Option<&'a Value> {
    match (value, element.strip_prefix("f:")) {
        (Value::Object(map), Some(name)) => map.get(name),
        (Value::Array(items), None) => items
            .iter()
            .enumerate()
            .find(|(i, item)| item_matches(item, *i, element))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// The value at a field path.
pub(super) fn lookup<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, element| child(v, element))
}

/// Removes the value at a field path (every matching list item); returns whether it existed.
pub(super) fn remove(value: &mut Value, path: &[String]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut parent = value;
    for element in parents {
        let next = match (parent, element.strip_prefix("f:")) {
            (Value::Object(map), Some(name)) => map.get_mut(name),
            (Value::Array(items), None) => items
                .iter_mut()
                .enumerate()
                .find(|(i, item)| item_matches(item, *i, element))
                .map(|(_, v)| v),
            _ => None,
        };
        let Some(next) = next else { return false };
        parent = next;
    }
    match (parent, last.strip_prefix("f:")) {
        (Value::Object(map), Some(name)) => map.remove(name).is_some(),
        (Value::Array(items), None) => {
            let before = items.len();
            let mut index = 0;
            items.retain(|item| {
                index += 1;
                !item_matches(item, index - 1, last)
            });
            items.len() != before
        }
        _ => false,
    }
}
