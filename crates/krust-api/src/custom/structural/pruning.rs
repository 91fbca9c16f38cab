//! Pruning (apiextensions-apiserver's `schema/pruning`), and the dropping of non-nullable
//! nulls without a default that upstream's decoder does right after it
//! (`PruneNonNullableNullsWithoutDefaults`).

use super::{
    EMBEDDED_RESOURCE, META_FIELDS, PRESERVE_UNKNOWN, additional, child, default_of, field_schema,
    flag, items, property,
};
use serde_json::Value;

/// Prunes `obj` (a resource: its root is treated as an embedded resource, so its
/// `apiVersion`, `kind` and `metadata` stay) and returns the pruned paths, sorted.
pub(super) fn prune(schema: &Value, obj: &mut Value) -> Vec<String> {
    let mut pruned = Vec::new();
    walk(Some(schema), obj, "", true, &mut pruned);
    drop_nulls(Some(schema), obj, true);
    pruned.sort();
    pruned
}

/// Prunes `x` at `path` against `s` (`None`: nothing is declared, every object field
/// beneath goes). `root` marks the resource's root.
fn walk(s: Option<&Value>, x: &mut Value, path: &str, root: bool, pruned: &mut Vec<String>) {
    let Some(s) = s else {
        return strip(x, path, pruned);
    };
    let embedded = root || flag(s, EMBEDDED_RESOURCE);
    if flag(s, PRESERVE_UNKNOWN) {
        return keep(s, x, path, embedded, pruned);
    }
    match x {
        Value::Object(map) => map.retain(|k, v| {
            if embedded && META_FIELDS.contains(&k.as_str()) {
                return true;
            }
            let at = child(path, k);
            if let Some(p) = property(s, k) {
                walk(Some(p), v, &at, false, pruned);
            } else if let Some(extra) = additional(s) {
                walk(extra, v, &at, false, pruned);
            } else {
                pruned.push(at);
                return false;
            }
            true
        }),
        Value::Array(list) => {
            for (i, v) in list.iter_mut().enumerate() {
                walk(items(s), v, &format!("{path}[{i}]"), false, pruned);
            }
        }
        _ => {}
    }
}

/// Removes every object field in `x` (an undeclared value: nothing beneath is known).
fn strip(x: &mut Value, path: &str, pruned: &mut Vec<String>) {
    match x {
        Value::Object(map) => {
            pruned.extend(map.keys().map(|k| child(path, k)));
            map.clear();
        }
        Value::Array(list) => {
            for (i, v) in list.iter_mut().enumerate() {
                strip(v, &format!("{path}[{i}]"), pruned);
            }
        }
        _ => {}
    }
}

/// Under `x-kubernetes-preserve-unknown-fields`: undeclared fields stay, declared ones are
/// pruned by their schemas.
fn keep(s: &Value, x: &mut Value, path: &str, embedded: bool, pruned: &mut Vec<String>) {
    match x {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                let at = child(path, k);
                if let Some(p) = property(s, k) {
                    walk(Some(p), v, &at, false, pruned);
                } else if let Some(extra) = additional(s) {
                    walk(extra, v, &at, false, pruned);
                }
            }
        }
        Value::Array(list) => {
            // Upstream keeps unknown fields in the items too, whatever their schema says.
            let Some(items) = items(s) else { return };
            let embedded = flag(items, EMBEDDED_RESOURCE);
            for (i, v) in list.iter_mut().enumerate() {
                keep(items, v, &format!("{path}[{i}]"), embedded, pruned);
            }
        }
        _ => {}
    }
}

/// Removes the `null`s of non-nullable fields without a default (in objects; an array's
/// null items stay). The root's `apiVersion`, `kind` and `metadata` are not looked at.
fn drop_nulls(s: Option<&Value>, x: &mut Value, root: bool) {
    match x {
        Value::Object(map) => map.retain(|k, v| {
            if root && META_FIELDS.contains(&k.as_str()) {
                return true;
            }
            let fs = s.and_then(|s| field_schema(s, k));
            let droppable = |fs: &Value| !flag(fs, "nullable") && default_of(fs).is_none();
            if v.is_null() && fs.is_some_and(droppable) {
                return false;
            }
            drop_nulls(fs, v, false);
            true
        }),
        Value::Array(list) => {
            for v in list {
                drop_nulls(s.and_then(items), v, false);
            }
        }
        _ => {}
    }
}
