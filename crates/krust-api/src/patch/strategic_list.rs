//! Strategic merge patch: merging lists and ordering the result.
//!
//! The order rules are Kubernetes': items named by the patch keep the patch's order, items only
//! on the server keep theirs, and the two are interleaved by their positions in the live list;
//! a new item (absent from the live list) is placed before the server-only items it meets. So
//! a plain patch adding a container puts it first, while `kubectl apply` (which sends
//! `$setElementOrder`) gets exactly the order it asks for.

use serde_json::{Map, Value};

use super::PatchError;
use super::strategic::{DIRECTIVE, Field, fresh, kind_name, merge_key_value, merge_map};

/// The result of merging a list.
pub(super) struct ListMerge {
    /// The merged list.
    pub merged: Vec<Value>,
    /// The live list as Kubernetes' `$setElementOrder` step sees it after the merge: the
    /// surviving items, then (in the slots freed by deletions) the first appended ones.
    pub server_view: Vec<Value>,
}

/// Merges a patch list into a list whose property has the `merge` strategy.
pub(super) fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    field: &Field,
) -> Result<ListMerge, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(ListMerge {
            merged: original,
            server_view: Vec::new(),
        });
    }
    if of_maps(&original, &patch)? {
        merge_maps(original, patch, field)
    } else {
        Ok(merge_scalars(original, patch))
    }
}

/// Whether the elements are maps (all of them) or scalars (none of them).
fn of_maps(original: &[Value], patch: &[Value]) -> Result<bool, PatchError> {
    let all = || original.iter().chain(patch);
    if all().any(Value::is_array) {
        return Err(PatchError::invalid("lists of lists are not supported"));
    }
    let maps = all().filter(|v| v.is_object()).count();
    if maps != 0 && maps != original.len() + patch.len() {
        let kinds: Vec<&str> = all().map(kind_name).collect();
        return Err(PatchError::invalid(format!(
            "list element types are not identical: {kinds:?}"
        )));
    }
    Ok(maps != 0)
}

/// Primitive lists merge as sets (deduplicated).
fn merge_scalars(original: Vec<Value>, patch: Vec<Value>) -> ListMerge {
    let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
    for item in original.iter().chain(&patch) {
        if !merged.contains(item) {
            merged.push(item.clone());
        }
    }
    let (in_patch, server_only): (Vec<Value>, Vec<Value>) =
        merged.into_iter().partition(|v| patch.contains(v));
    let merged = merge_sorted(
        sort_by_order(server_only, &original, None),
        sort_by_order(in_patch, &patch, None),
        &original,
        None,
    );
    ListMerge {
        merged,
        server_view: original,
    }
}

/// Lists of maps merge by the merge key; `$patch: delete` elements delete every match,
/// `$patch: replace` replaces the list with the other elements.
fn merge_maps(
    original: Vec<Value>,
    patch: Vec<Value>,
    field: &Field,
) -> Result<ListMerge, PatchError> {
    let Some(key) = field.merge_key() else {
        return Err(PatchError::invalid(
            "cannot merge lists without merge key for type map",
        ));
    };
    // `view` mirrors the live list's storage: deletions shift in place and leave stale slots,
    // which appended items then fill (this is the order `$setElementOrder` compares against).
    let capacity = original.len();
    let mut view = original;
    let mut live = capacity;
    let mut replace = false;
    let mut items = Vec::with_capacity(patch.len());
    for item in patch {
        match item.get(DIRECTIVE) {
            None => items.push(item),
            Some(directive) => match directive.as_str() {
                Some("delete") => {
                    let value = merge_key_value(&item, key)?;
                    while let Some(at) = view[..live].iter().position(|v| v.get(key) == Some(value))
                    {
                        for i in at..live - 1 {
                            view[i] = view[i + 1].clone();
                        }
                        live -= 1;
                    }
                }
                Some("replace") => replace = true,
                Some("merge") => {
                    return Err(PatchError::invalid(
                        "merging lists cannot yet be specified in the patch",
                    ));
                }
                _ => {
                    return Err(PatchError::invalid(format!(
                        "unknown patch type: {} in map: {}",
                        directive
                            .as_str()
                            .map_or_else(|| directive.to_string(), str::to_owned),
                        item
                    )));
                }
            },
        }
    }
    if replace {
        let merged = items
            .into_iter()
            .map(|item| fresh_item(item, field))
            .collect::<Result<_, _>>()?;
        return Ok(ListMerge {
            merged,
            server_view: view,
        });
    }
    let survivors: Vec<Value> = view[..live].to_vec();
    let mut merged = survivors.clone();
    for item in &items {
        let value = merge_key_value(item, key)?;
        match merged.iter().position(|v| v.get(key) == Some(value)) {
            Some(at) => {
                let (Value::Object(current), Value::Object(patch)) =
                    (merged[at].take(), item.clone())
                else {
                    unreachable!("checked to be maps");
                };
                merged[at] = Value::Object(merge_map(current, patch, field.node)?);
            }
            None => {
                merged.push(fresh_item(item.clone(), field)?);
                if live < capacity {
                    view[live] = item.clone();
                    live += 1;
                }
            }
        }
    }
    let (in_patch, server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|v| index_of(&items, v, Some(key)).is_some());
    let merged = merge_sorted(
        sort_by_order(server_only, &survivors, Some(key)),
        sort_by_order(in_patch, &items, Some(key)),
        &survivors,
        Some(key),
    );
    Ok(ListMerge {
        merged,
        server_view: view,
    })
}

fn fresh_item(item: Value, field: &Field) -> Result<Value, PatchError> {
    match item {
        Value::Object(map) => merge_map(Map::new(), map, field.node).map(Value::Object),
        other => fresh(other, field),
    }
}

/// Orders a merged list by a `$setElementOrder` list: listed items in that order, the others
/// in the live order, interleaved by their live positions.
pub(super) fn order_by_set_element_order(
    merged: Vec<Value>,
    order: &[Value],
    server_view: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    let (listed, server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|v| index_of(order, v, key).is_some());
    merge_sorted(
        sort_by_order(server_only, server_view, key),
        sort_by_order(listed, order, key),
        server_view,
        key,
    )
}

/// The position of `item` in `list`, comparing merge-key values (or whole values).
fn index_of(list: &[Value], item: &Value, key: Option<&str>) -> Option<usize> {
    match key {
        Some(key) => list.iter().position(|v| v.get(key) == item.get(key)),
        None => list.iter().position(|v| v == item),
    }
}

/// Stable sort by position in `order`; items not in it go last, in their current order.
fn sort_by_order(mut items: Vec<Value>, order: &[Value], key: Option<&str>) -> Vec<Value> {
    items.sort_by_cached_key(|v| index_of(order, v, key).unwrap_or(usize::MAX));
    items
}

/// Interleaves server-only items (`left`) and patch items (`right`), both already sorted:
/// a server-only item goes first only when both are in `server_order` and it comes earlier.
fn merge_sorted(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => match (
                index_of(server_order, l, key),
                index_of(server_order, r, key),
            ) {
                (Some(li), Some(ri)) => li < ri,
                _ => false,
            },
        };
        out.extend(if take_left { left.next() } else { right.next() });
    }
    out
}
