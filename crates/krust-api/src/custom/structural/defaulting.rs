//! Defaulting (apiextensions-apiserver's `schema/defaulting`).

use super::{additional, default_of, flag, items, property};
use serde_json::Value;

/// Defaults `obj`, a resource (its root `metadata` is not defaulted).
pub(super) fn default(schema: &Value, obj: &mut Value) {
    apply(schema, obj, true)
}

/// `x` is null where `s` does not allow it: a default replaces it.
fn non_nullable_null(x: &Value, s: &Value) -> bool {
    x.is_null() && !flag(s, "nullable")
}

/// Defaults `x` against `s`: first the absent (or non-nullable null) properties, then
/// everything beneath, defaults included.
fn apply(s: &Value, x: &mut Value, root: bool) {
    match x {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = s.get("properties") {
                for (k, p) in properties {
                    if root && k == "metadata" {
                        continue;
                    }
                    let Some(d) = default_of(p) else { continue };
                    if map.get(k).is_none_or(|v| non_nullable_null(v, p)) {
                        map.insert(k.clone(), d.clone());
                    }
                }
            }
            for (k, v) in map.iter_mut() {
                if root && k == "metadata" {
                    continue;
                }
                if let Some(p) = property(s, k) {
                    apply(p, v, false);
                } else if let Some(Some(extra)) = additional(s) {
                    if let Some(d) = default_of(extra).filter(|_| non_nullable_null(v, extra)) {
                        *v = d.clone();
                    }
                    apply(extra, v, false);
                }
            }
        }
        Value::Array(list) => {
            let Some(items) = items(s) else { return };
            for v in list {
                if let Some(d) = default_of(items).filter(|_| non_nullable_null(v, items)) {
                    *v = d.clone();
                }
                apply(items, v, false);
            }
        }
        _ => {}
    }
}
