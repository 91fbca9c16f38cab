//! Server-side apply: merging an applied configuration into the live object.
//!
//! Structs and granular maps merge field by field (the configuration wins); associative lists
//! merge item by item on their keys and sets on their values, in structured-merge-diff's
//! order (live-only items keep their place, applied items come in the applied order);
//! atomic lists, atomic structs and scalars are replaced.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::apply_fields::{ListKind, atomic_map, key_element, list_kind, value_element};
use super::strategic::{Field, Node};

/// Merges `applied` into `live` (either may be absent below the root).
pub(super) fn merge_value(
    live: Option<Value>,
    applied: Value,
    field: &Field,
) -> Result<Value, String> {
    match (live, applied) {
        (Some(Value::Object(live)), Value::Object(applied)) if !atomic_map(field) => {
            merge_map(live, applied, field.node).map(Value::Object)
        }
        (Some(Value::Array(live)), Value::Array(applied)) => match list_kind(field) {
            ListKind::Map(keys) => {
                let key = |item: &Value| key_element(item, &keys);
                merge_items(live, applied, key, |l, r| {
                    merge_value(l, r, &Field::plain(field.node))
                })
                .map(Value::Array)
            }
            ListKind::Set => {
                merge_items(live, applied, |v| Ok(value_element(v)), |_, r| Ok(r)).map(Value::Array)
            }
            ListKind::Atomic => Ok(Value::Array(applied)),
        },
        (_, applied) => Ok(applied),
    }
}

fn merge_map(
    mut live: Map<String, Value>,
    applied: Map<String, Value>,
    node: Node,
) -> Result<Map<String, Value>, String> {
    for (key, value) in applied {
        if value.is_null() {
            live.remove(&key);
            continue;
        }
        let field = node.field(&key);
        let merged = merge_value(live.remove(&key), value, &field)?;
        live.insert(key, merged);
    }
    Ok(live)
}

/// Merges two keyed lists the way structured-merge-diff does.
fn merge_items(
    lhs: Vec<Value>,
    rhs: Vec<Value>,
    key: impl Fn(&Value) -> Result<String, String>,
    merge: impl Fn(Option<Value>, Value) -> Result<Value, String>,
) -> Result<Vec<Value>, String> {
    let lhs_keys = lhs.iter().map(&key).collect::<Result<Vec<_>, _>>()?;
    let rhs_keys = rhs.iter().map(&key).collect::<Result<Vec<_>, _>>()?;
    let in_rhs: HashSet<&String> = rhs_keys.iter().collect();
    let in_lhs: HashSet<&String> = lhs_keys.iter().collect();
    let lhs_item = |k: &String| lhs_keys.iter().position(|l| l == k).map(|i| lhs[i].clone());
    let shared: Vec<&String> = rhs_keys.iter().filter(|k| in_lhs.contains(k)).collect();
    let mut next_shared = 0;
    let mut merged_rhs: HashSet<&String> = HashSet::new();
    let mut out = Vec::with_capacity(lhs.len() + rhs.len());
    let (mut l, mut r) = (0, 0);
    let mut rhs = rhs.into_iter().map(Some).collect::<Vec<_>>();
    while l < lhs.len() || r < rhs_keys.len() {
        if l < lhs.len() && r < rhs_keys.len() {
            if lhs_keys[l] == rhs_keys[r] {
                merged_rhs.insert(&rhs_keys[r]);
                out.push(merge(
                    Some(lhs[l].clone()),
                    rhs[r].take().unwrap_or(Value::Null),
                )?);
                if shared.get(next_shared) == Some(&&rhs_keys[r]) {
                    next_shared += 1;
                }
                l += 1;
                r += 1;
                continue;
            }
            if in_rhs.contains(&lhs_keys[l])
                && shared.get(next_shared).is_some_and(|s| **s != lhs_keys[l])
            {
                l += 1;
                continue;
            }
        }
        if l < lhs.len() {
            if !in_rhs.contains(&lhs_keys[l]) {
                out.push(lhs[l].clone());
                l += 1;
                continue;
            }
            if merged_rhs.contains(&lhs_keys[l]) {
                l += 1;
                continue;
            }
        }
        if r < rhs_keys.len() {
            let k = &rhs_keys[r];
            let first = !merged_rhs.contains(k);
            merged_rhs.insert(k);
            let item = rhs[r].take().unwrap_or(Value::Null);
            if first {
                out.push(merge(lhs_item(k), item)?);
            }
            if shared.get(next_shared) == Some(&k) {
                next_shared += 1;
            }
            r += 1;
        }
    }
    Ok(out)
}
