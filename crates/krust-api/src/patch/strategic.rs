//! Kubernetes strategic merge patch (`application/strategic-merge-patch+json`): maps.
//!
//! This follows k8s.io/apimachinery `pkg/util/strategicpatch` (`StrategicMergeMapPatch`):
//! maps merge recursively and `null` deletes a key; lists whose schema property has
//! `x-kubernetes-patch-strategy: merge` are merged (by `x-kubernetes-patch-merge-key` for lists
//! of maps, as sets for primitives), other lists are replaced; `$patch: replace|delete` on maps,
//! `$patch: delete|replace` in list elements, `$retainKeys`, `$setElementOrder/<list>` and
//! `$deleteFromPrimitiveList/<list>` are honoured. Where the schema knows nothing (unknown
//! fields, free-form objects) the patch falls back to merge-patch semantics.

use serde_json::{Map, Value};

use super::PatchError;
use super::strategic_list::{merge_list, order_by_set_element_order};
use crate::schema::{self, Described, Property, Shape};

pub(super) const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ORDER_PREFIX: &str = "$setElementOrder/";
const DELETE_PRIMITIVE_PREFIX: &str = "$deleteFromPrimitiveList/";

/// The definitions a patch is interpreted with.
type Definitions = &'static Map<String, Value>;

/// Where in the schema a map sits.
#[derive(Clone, Copy, Debug)]
pub(super) struct Node {
    definitions: Definitions,
    at: At,
}

#[derive(Clone, Copy, Debug)]
enum At {
    /// No schema information: merge-patch semantics.
    Unknown,
    /// A struct with this definition.
    Struct(&'static str),
    /// A map whose values have this definition.
    MapOf(&'static str),
}

/// What the schema says about one key of a map.
pub(super) struct Field {
    /// The node of the value (of the items, for lists).
    pub node: Node,
    /// The property, when the key is a known struct field.
    pub prop: Option<Property>,
}

impl Field {
    /// A field with no property metadata (a list item, a map value, the root).
    pub(super) fn plain(node: Node) -> Self {
        Field { node, prop: None }
    }

    fn unknown(definitions: Definitions) -> Self {
        Field {
            node: Node {
                definitions,
                at: At::Unknown,
            },
            prop: None,
        }
    }

    /// Whether the list under this key is merged rather than replaced.
    pub fn merges(&self) -> bool {
        self.prop.as_ref().is_some_and(Property::merges)
    }

    /// The merge key of the list under this key.
    pub fn merge_key(&self) -> Option<&'static str> {
        self.prop.as_ref().and_then(|p| p.merge_key)
    }

    fn replaces(&self) -> bool {
        self.prop.as_ref().is_some_and(Property::replaces)
    }
}

impl Node {
    /// The schema of `key` in a map at this node.
    pub(super) fn field(self, key: &str) -> Field {
        let definitions = self.definitions;
        match self.at {
            At::Struct(def) => match property(definitions, def, key) {
                Some(prop) => Field {
                    node: self.value_node(&prop),
                    prop: Some(prop),
                },
                None => Field::unknown(definitions),
            },
            At::MapOf(def) => Field {
                node: Node {
                    definitions,
                    at: At::Struct(def),
                },
                prop: None,
            },
            At::Unknown => Field::unknown(definitions),
        }
    }

    /// The node for a definition name (unknown if there is no such definition).
    pub(super) fn of_definition(definitions: Definitions, definition: &str) -> Node {
        let at = match definitions.get_key_value(definition) {
            Some((name, _)) => At::Struct(name.as_str()),
            None => At::Unknown,
        };
        Node { definitions, at }
    }

    /// Whether the struct at this node is atomic (`x-kubernetes-map-type: atomic`).
    pub(super) fn is_atomic(self) -> bool {
        let At::Struct(def) = self.at else {
            return false;
        };
        if let Some(described) = described(self.definitions, def) {
            return described.atomic;
        }
        self.definitions
            .get(def)
            .and_then(|d| d.get("x-kubernetes-map-type"))
            .and_then(Value::as_str)
            == Some("atomic")
    }

    /// Whether values at this node may hold lists other than atomic ones (associative lists,
    /// sets) somewhere below; `false` is a guarantee, `true` a possibility.
    pub(super) fn may_hold_lists(self) -> bool {
        match self.at {
            At::Unknown => false,
            At::Struct(def) | At::MapOf(def) => {
                described(self.definitions, def).is_none_or(|d| d.holds_lists)
            }
        }
    }

    fn value_node(self, prop: &Property) -> Node {
        let at = match (prop.shape, prop.definition) {
            (Shape::Object | Shape::List, Some(def)) => At::Struct(def),
            (Shape::Map, Some(def)) => At::MapOf(def),
            _ => At::Unknown,
        };
        Node {
            definitions: self.definitions,
            at,
        }
    }
}

/// The cached description of `def`, when `definitions` are the served ones.
fn described(definitions: Definitions, def: &str) -> Option<&'static Described> {
    if std::ptr::eq(definitions, schema::definitions()) {
        schema::described(def)
    } else {
        None
    }
}

/// [`schema::property_in`], from the cache where it can.
fn property(definitions: Definitions, def: &str, key: &str) -> Option<Property> {
    match described(definitions, def) {
        Some(d) => d.property(key).cloned(),
        None => schema::property_in(definitions, def, key),
    }
}

/// Applies a strategic merge patch to `target`, an object of the given definition
/// (e.g. `io.k8s.api.apps.v1.Deployment`). An unknown definition gives merge-patch semantics
/// everywhere (directives are still honoured).
pub fn strategic_merge_patch(
    target: Value,
    patch: &Value,
    definition: &str,
) -> Result<Value, PatchError> {
    strategic_merge_patch_in(schema::definitions(), target, patch, definition)
}

/// [`strategic_merge_patch`] interpreted with another set of definitions.
pub fn strategic_merge_patch_in(
    definitions: &'static Map<String, Value>,
    target: Value,
    patch: &Value,
    definition: &str,
) -> Result<Value, PatchError> {
    let Value::Object(patch) = patch else {
        return Err(PatchError::bad_request(
            "a strategic merge patch must be a JSON object",
        ));
    };
    let original = match target {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    merge_map(
        original,
        patch.clone(),
        Node::of_definition(definitions, definition),
    )
    .map(Value::Object)
}

/// Merges `patch` into `original` (both maps at `node`).
pub(super) fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    node: Node,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.remove(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => merge_map(Map::new(), patch, node),
            Some("delete") => Ok(Map::new()),
            _ => Err(PatchError::invalid(format!(
                "unknown patch type: {} in map: {}",
                display(&directive),
                Value::Object(patch)
            ))),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    apply_set_element_orders(&mut original, &mut patch, node)?;
    let mut deletions = Vec::new();
    for (key, value) in patch {
        if let Some(list) = key.strip_prefix(DELETE_PRIMITIVE_PREFIX) {
            deletions.push((list.to_owned(), value));
            continue;
        }
        let field = node.field(&key);
        if value.is_null() {
            original.remove(&key);
            continue;
        }
        let merged = match original.remove(&key) {
            Some(current) => merge_values(current, value, &field)?,
            None => fresh(value, &field)?,
        };
        original.insert(key, merged);
    }
    for (key, value) in deletions {
        delete_from_primitive_list(&mut original, &key, value)?;
    }
    Ok(original)
}

fn merge_values(current: Value, patch: Value, field: &Field) -> Result<Value, PatchError> {
    match (current, patch) {
        (Value::Object(current), Value::Object(patch)) if !field.replaces() => {
            merge_map(current, patch, field.node).map(Value::Object)
        }
        (Value::Array(current), Value::Array(patch)) if field.merges() => {
            merge_list(current, patch, field).map(|m| Value::Array(m.merged))
        }
        (_, patch) => fresh(patch, field),
    }
}

/// A patch value that replaces (or creates) a value: its directives are resolved against
/// nothing, so the stored value carries none.
pub(super) fn fresh(patch: Value, field: &Field) -> Result<Value, PatchError> {
    match patch {
        Value::Object(map) => merge_map(Map::new(), map, field.node).map(Value::Object),
        Value::Array(items) if field.merges() => {
            merge_list(Vec::new(), items, field).map(|m| Value::Array(m.merged))
        }
        other => Ok(other),
    }
}

/// `$retainKeys`: clears every key of `original` not listed; every key the patch sets must be
/// listed.
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(PatchError::bad_request(
            "invalid patch format of retainKeys",
        ));
    };
    let listed = |key: &str| retain.iter().any(|k| k.as_str() == Some(key));
    for (key, value) in patch.iter() {
        let directive =
            key.starts_with(DELETE_PRIMITIVE_PREFIX) || key.starts_with(SET_ORDER_PREFIX);
        if !value.is_null() && !directive && !listed(key) {
            return Err(PatchError::bad_request(
                "invalid patch format of retainKeys",
            ));
        }
    }
    original.retain(|key, _| listed(key));
    Ok(())
}

/// `$setElementOrder/<list>`: merges `<list>` (if patched) and orders the result by the
/// directive, then by the live order (the precedence Kubernetes uses).
fn apply_set_element_orders(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    node: Node,
) -> Result<(), PatchError> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ORDER_PREFIX))
        .cloned()
        .collect();
    for key in keys {
        let name = &key[SET_ORDER_PREFIX.len()..];
        let Some(Value::Array(order)) = patch.remove(&key) else {
            return Err(PatchError::bad_request(
                "invalid patch format of setElementOrder list",
            ));
        };
        let field = node.field(name);
        let current = take_list(original.get(name).cloned(), name)?;
        let patched = take_list(patch.remove(name), name)?;
        validate_order(patched.as_deref(), &order, field.merge_key())?;
        let (merged, server_view) = match (current, patched) {
            (Some(current), None) => (current.clone(), current),
            (None, Some(patched)) => match fresh(Value::Array(patched), &field)? {
                Value::Array(items) => (items, Vec::new()),
                _ => unreachable!("fresh keeps lists lists"),
            },
            (Some(current), Some(patched)) if field.merges() => {
                let merge = merge_list(current, patched, &field)?;
                (merge.merged, merge.server_view)
            }
            (Some(current), Some(patched)) => (patched, current),
            (None, None) => continue,
        };
        let ordered = order_by_set_element_order(merged, &order, &server_view, field.merge_key());
        original.insert(name.to_owned(), Value::Array(ordered));
    }
    Ok(())
}

fn take_list(value: Option<Value>, name: &str) -> Result<Option<Vec<Value>>, PatchError> {
    match value {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(other) => Err(PatchError::invalid(format!(
            "{name}: expected a list, but received {}",
            kind_name(&other)
        ))),
    }
}

/// Checks that the patched list is ordered as its `$setElementOrder` list and is a subset of it.
fn validate_order(
    patched: Option<&[Value]>,
    order: &[Value],
    merge_key: Option<&str>,
) -> Result<(), PatchError> {
    let Some(patched) = patched else {
        return Ok(());
    };
    if patched.is_empty() || order.is_empty() {
        return Ok(());
    }
    let kept: Vec<&Value> = patched
        .iter()
        .filter(|item| {
            merge_key.is_none() || item.get(DIRECTIVE).and_then(Value::as_str) != Some("delete")
        })
        .collect();
    let (mut p, mut o) = (0, 0);
    while p < kept.len() && o < order.len() {
        if kept[p].get(DIRECTIVE).is_some() {
            p += 1;
            continue;
        }
        if same_key(kept[p], &order[o], merge_key)? {
            p += 1;
        }
        o += 1;
    }
    if p < kept.len() && o >= order.len() {
        return Err(PatchError::invalid(format!(
            "The order in patch list:\n{}\n doesn't match $setElementOrder list:\n{}\n",
            Value::Array(patched.to_vec()),
            Value::Array(order.to_vec())
        )));
    }
    Ok(())
}

fn same_key(left: &Value, right: &Value, merge_key: Option<&str>) -> Result<bool, PatchError> {
    let Some(key) = merge_key else {
        return Ok(left == right);
    };
    Ok(merge_key_value(left, key)? == merge_key_value(right, key)?)
}

/// The merge key's value in a list element.
pub(super) fn merge_key_value<'a>(item: &'a Value, key: &str) -> Result<&'a Value, PatchError> {
    item.get(key).ok_or_else(|| {
        PatchError::invalid(format!(
            "map: {item} does not contain declared merge key: {key}"
        ))
    })
}

/// `$deleteFromPrimitiveList/<list>`: removes the listed values from `<list>` if it exists.
fn delete_from_primitive_list(
    original: &mut Map<String, Value>,
    key: &str,
    values: Value,
) -> Result<(), PatchError> {
    let Value::Array(values) = values else {
        return Err(PatchError::bad_request(
            "invalid patch format of primitive list",
        ));
    };
    if let Some(Value::Array(items)) = original.get_mut(key) {
        items.retain(|item| !values.contains(item));
    }
    Ok(())
}

fn display(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

pub(super) fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

#[cfg(test)]
mod cache_tests {
    use super::{Node, property};
    use crate::schema;
    use serde_json::Value;

    #[test]
    fn cached_descriptions_are_the_schema_ones() {
        let definitions = schema::definitions();
        for (name, def) in definitions {
            let keys = def
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|props| props.keys().map(String::as_str));
            for key in keys.chain(["no-such-property"]) {
                assert_eq!(
                    property(definitions, name, key),
                    schema::property_in(definitions, name, key),
                    "{name}.{key}"
                );
            }
            assert_eq!(
                Node::of_definition(definitions, name).is_atomic(),
                schema::is_atomic_struct(name),
                "{name}"
            );
        }
        let holds_lists = |name| Node::of_definition(definitions, name).may_hold_lists();
        assert!(holds_lists("io.k8s.api.core.v1.Pod"));
        assert!(holds_lists("io.k8s.api.core.v1.PodStatus"));
        assert!(holds_lists(
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        ));
        assert!(!holds_lists("io.k8s.api.coordination.v1.LeaseSpec"));
        assert!(!holds_lists("io.k8s.api.core.v1.Probe"));
    }
}
