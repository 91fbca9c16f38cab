//! managedFields tracking: the fields a write changes, by one walk over both objects.
//!
//! The result is what comparing the field sets of the old and the new object path by path
//! gives (`changes_by_lookup` in `apply.rs`): a path of the new object's set is *taken* when the
//! write changed it (a leaf whose value changed, a member with fields below that appeared), a
//! path of the old object's set is *gone* when the new object has nothing there. Walking both
//! objects together finds each path's old and new value on the way down instead of looking it
//! up from the root, formats path elements only for paths that end up in a result, and skips
//! equal subtrees (which take nothing and lose nothing) after checking they would give field
//! sets.
//!
//! Looking a path up finds the first list item whose keys (or value) match the path element.
//! Where that may not be the item the element was made from (duplicate keys, a key field set
//! to `null` that has a default, float keys or set items whose JSON may not round-trip, long
//! lists), or where an object gives no field set (a list item without its key), the walk gives
//! up with [`Irregular`] and the caller compares path by path.

use serde_json::{Map, Value};

use crate::patch::apply_fields::{
    ListKind, STRIPPED, atomic_map, key_element, key_value, list_kind, value_element,
};
use crate::patch::fieldset::FieldSet;
use crate::patch::strategic::{Field, Node};

/// The changed (`taken`) and removed (`gone`) paths, relative to some path.
#[derive(Debug, Default)]
pub(in crate::patch) struct Changes {
    /// Paths of the new object the write changed.
    pub(in crate::patch) taken: FieldSet,
    /// Paths of the old object the new one no longer has.
    pub(in crate::patch) gone: FieldSet,
}

impl Changes {
    /// Adds `child`'s paths below the element `element` gives (called only if there are any).
    fn graft(
        &mut self,
        child: Changes,
        element: impl FnOnce() -> Result<String, Irregular>,
    ) -> Result<(), Irregular> {
        if child.taken.is_empty() && child.gone.is_empty() {
            return Ok(());
        }
        let element = element()?;
        if child.gone.is_empty() {
            self.taken.graft(element, child.taken);
        } else {
            self.taken.graft(element.clone(), child.taken);
            self.gone.graft(element, child.gone);
        }
        Ok(())
    }
}

/// The objects hold something the walk does not match the way path lookups do, or do not give
/// field sets at all: compare path by path instead.
#[derive(Debug)]
pub(in crate::patch) struct Irregular;

type Walked = Result<Changes, Irregular>;

/// The longest associative list or set the walk matches up (item against item).
const MAX_ITEMS: usize = 64;

/// Where a map sits: what is stripped or skipped in it depends on it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    /// The object itself.
    Root,
    /// The object's `metadata`.
    Metadata,
    /// Anywhere else.
    Below,
}

/// The changes from `old` (`None` on create) to `new`, objects of the definition at `root`,
/// leaving out `metadata.managedFields` and the fields Kubernetes strips.
pub(in crate::patch) fn changes(old: Option<&Value>, new: &Value, root: Node) -> Walked {
    let mut out = Changes::default();
    map(
        old.and_then(Value::as_object),
        new.as_object(),
        root,
        Level::Root,
        &mut out,
    )?;
    Ok(out)
}

/// Whether Kubernetes strips the field `key` of a map at `level`.
fn stripped(level: Level, key: &str) -> bool {
    let is = |element: &str| element.strip_prefix("f:") == Some(key);
    STRIPPED.iter().any(|path| match (level, path) {
        (Level::Root, [field]) => is(field),
        (Level::Metadata, [parent, field]) => *parent == "f:metadata" && is(field),
        _ => false,
    })
}

/// The changes in the fields of a map; `old` and `new` are the maps where the values are maps
/// walked field by field.
fn map(
    old: Option<&Map<String, Value>>,
    new: Option<&Map<String, Value>>,
    node: Node,
    level: Level,
    out: &mut Changes,
) -> Result<(), Irregular> {
    for (key, value) in new.into_iter().flatten() {
        let before = old.and_then(|o| o.get(key));
        out.graft(entry(key, before, Some(value), node, level)?, || {
            Ok(["f:", key].concat())
        })?;
    }
    for (key, value) in old.into_iter().flatten() {
        if new.is_none_or(|n| !n.contains_key(key)) {
            out.graft(entry(key, Some(value), None, node, level)?, || {
                Ok(["f:", key].concat())
            })?;
        }
    }
    Ok(())
}

/// The changes at and below the field `key` of a map at `node`.
fn entry(key: &str, old: Option<&Value>, new: Option<&Value>, node: Node, level: Level) -> Walked {
    if level == Level::Metadata && key == "managedFields" {
        return Ok(Changes::default());
    }
    if let (Some(old), Some(new)) = (old, new)
        && old == new
    {
        if new.is_object() || new.is_array() {
            check(new, &node.field(key))?;
        }
        return Ok(Changes::default());
    }
    let field = node.field(key);
    let below = if level == Level::Root && key == "metadata" {
        Level::Metadata
    } else {
        Level::Below
    };
    // Map entries and fields the schema does not know are members themselves.
    let member = field.prop.is_none();
    value(old, new, &field, member, below, stripped(level, key))
}

/// How the field set walk treats a value.
enum Shape<'a> {
    /// A member with nothing below: a scalar, `null`, an empty or atomic map, an atomic list.
    Leaf,
    /// A map walked field by field.
    Map(&'a Map<String, Value>),
    /// An associative list or a set, walked item by item.
    List(&'a [Value]),
}

impl<'a> Shape<'a> {
    /// The shape of a value of `field`, a list of kind `kind`.
    fn of(value: &'a Value, field: &Field, kind: &ListKind) -> Self {
        match value {
            Value::Object(map) if !map.is_empty() && !atomic_map(field) => Shape::Map(map),
            Value::Array(items) if !matches!(kind, ListKind::Atomic) => Shape::List(items),
            _ => Shape::Leaf,
        }
    }

    fn is_leaf(shape: &Option<Self>) -> bool {
        matches!(shape, Some(Shape::Leaf))
    }

    fn map(shape: &Option<Self>) -> Option<&'a Map<String, Value>> {
        match shape {
            Some(Shape::Map(map)) => Some(map),
            _ => None,
        }
    }

    fn list(shape: &Option<Self>) -> Option<&'a [Value]> {
        match shape {
            Some(Shape::List(items)) => Some(items),
            _ => None,
        }
    }
}

/// The changes at and below a path whose values differ (`None`: absent). `member`: the path is
/// a member whatever its value; `level`: that of the value if it is a map; `stripped`: the
/// path itself is never recorded.
fn value(
    old: Option<&Value>,
    new: Option<&Value>,
    field: &Field,
    member: bool,
    level: Level,
    stripped: bool,
) -> Walked {
    let kind = if old.is_some_and(Value::is_array) || new.is_some_and(Value::is_array) {
        list_kind(field)
    } else {
        ListKind::Atomic
    };
    let shape = |value| Shape::of(value, field, &kind);
    let (old_shape, new_shape) = (old.map(shape), new.map(shape));
    let mut out = Changes::default();
    let (before, after) = (Shape::map(&old_shape), Shape::map(&new_shape));
    if before.is_some() || after.is_some() {
        map(before, after, field.node, level, &mut out)?;
    }
    let (before, after) = (Shape::list(&old_shape), Shape::list(&new_shape));
    if before.is_some() || after.is_some() {
        match &kind {
            ListKind::Map(keys) => keyed(before, after, keys, field.node, &mut out)?,
            ListKind::Set => set(before, after, &mut out)?,
            ListKind::Atomic => {}
        }
    }
    if stripped {
        return Ok(out);
    }
    let leaf = Shape::is_leaf;
    if let Some(new) = new
        && (member || leaf(&new_shape))
    {
        let changed = match old {
            None => true,
            // A map owned as a whole (say `f:data` of an empty map) is not changed by keys
            // added inside it: only a value that changes is.
            Some(old) if leaf(&new_shape) => old != new && !(old.is_object() && new.is_object()),
            // A member with fields below changes only by appearing; one without (all its
            // fields were absent before, so they are all taken) by its value changing.
            Some(old) => !old.is_object() && out.taken.is_empty(),
        };
        if changed {
            out.taken.mark();
        }
    }
    if old.is_some() && new.is_none() && (member || leaf(&old_shape)) {
        out.gone.mark();
    }
    Ok(out)
}

/// The changes in the items of an associative list with key fields `keys`, items at `node`.
fn keyed(
    old: Option<&[Value]>,
    new: Option<&[Value]>,
    keys: &[&str],
    node: Node,
    out: &mut Changes,
) -> Result<(), Irregular> {
    for items in [old, new].into_iter().flatten() {
        check_keys(items, keys)?;
    }
    let element = |value: &Value| key_element(value, keys).map_err(|_| Irregular);
    for (i, value) in new.into_iter().flatten().enumerate() {
        let before = old.and_then(|o| find(o, i, value, keys));
        out.graft(item(before, Some(value), node)?, || element(value))?;
    }
    for (i, value) in old.into_iter().flatten().enumerate() {
        if new.is_none_or(|n| find(n, i, value, keys).is_none()) {
            out.graft(item(Some(value), None, node)?, || element(value))?;
        }
    }
    Ok(())
}

/// Whether two (checked) associative list items have the same keys.
fn same_keys(a: &Value, b: &Value, keys: &[&str]) -> bool {
    keys.iter().all(|k| key_value(a, k) == key_value(b, k))
}

/// The item of `items` with the keys of `item`, looked for first at `index`.
fn find<'a>(items: &'a [Value], index: usize, item: &Value, keys: &[&str]) -> Option<&'a Value> {
    match items.get(index) {
        Some(same) if same_keys(same, item, keys) => Some(same),
        _ => items.iter().find(|i| same_keys(i, item, keys)),
    }
}

/// The changes at and below an associative list item whose values differ.
fn item(old: Option<&Value>, new: Option<&Value>, node: Node) -> Walked {
    let mut out = Changes::default();
    if let (Some(old), Some(new)) = (old, new)
        && old == new
    {
        check_item(new, node)?;
        return Ok(out);
    }
    if !node.is_atomic() {
        let (before, after) = (
            old.and_then(Value::as_object),
            new.and_then(Value::as_object),
        );
        map(before, after, node, Level::Below, &mut out)?;
    }
    // Items are members with fields below: they change only by appearing.
    if old.is_none() {
        out.taken.mark();
    }
    if new.is_none() {
        out.gone.mark();
    }
    Ok(out)
}

/// The changes in the items of a set: items are members, and change by appearing.
fn set(old: Option<&[Value]>, new: Option<&[Value]>, out: &mut Changes) -> Result<(), Irregular> {
    for items in [old, new].into_iter().flatten() {
        check_set(items)?;
    }
    let member = || {
        let mut set = FieldSet::default();
        set.mark();
        set
    };
    for value in new.into_iter().flatten() {
        if !old.is_some_and(|o| o.contains(value)) {
            out.taken.graft(value_element(value), member());
        }
    }
    for value in old.into_iter().flatten() {
        if !new.is_some_and(|n| n.contains(value)) {
            out.gone.graft(value_element(value), member());
        }
    }
    Ok(())
}

/// Checks that a value whose path is the same in both objects gives a field set that the walk
/// may skip (see the module documentation).
fn check(value: &Value, field: &Field) -> Result<(), Irregular> {
    match value {
        Value::Object(map) if !map.is_empty() && !atomic_map(field) => check_map(map, field.node),
        Value::Array(items) => match list_kind(field) {
            ListKind::Map(keys) => {
                check_keys(items, &keys)?;
                items
                    .iter()
                    .try_for_each(|item| check_item(item, field.node))
            }
            ListKind::Set => check_set(items),
            ListKind::Atomic => Ok(()),
        },
        _ => Ok(()),
    }
}

/// [`check`] for the fields of a map at `node`.
fn check_map(map: &Map<String, Value>, node: Node) -> Result<(), Irregular> {
    if !node.may_hold_lists() {
        return Ok(());
    }
    map.iter()
        .filter(|(_, value)| value.is_object() || value.is_array())
        .try_for_each(|(key, value)| check(value, &node.field(key)))
}

/// [`check`] for the fields of an associative list item at `node`.
fn check_item(item: &Value, node: Node) -> Result<(), Irregular> {
    match item {
        Value::Object(map) if !node.is_atomic() => check_map(map, node),
        _ => Ok(()),
    }
}

/// Checks that every item of an associative list has its keys, that no two have the same, and
/// that key values are not floats.
fn check_keys(items: &[Value], keys: &[&str]) -> Result<(), Irregular> {
    if items.len() > MAX_ITEMS {
        return Err(Irregular);
    }
    for (i, item) in items.iter().enumerate() {
        if !item.is_object() {
            return Err(Irregular);
        }
        for key in keys {
            // A `null` key: missing (without default), or defaulted here but not by lookups.
            match (item.get(*key), key_value(item, key)) {
                (Some(Value::Null), _) | (_, None) => return Err(Irregular),
                (_, Some(value)) if has_float(value) => return Err(Irregular),
                _ => {}
            }
        }
        if items[..i].iter().any(|prev| same_keys(prev, item, keys)) {
            return Err(Irregular);
        }
    }
    Ok(())
}

/// Checks that no item of a set holds a float.
fn check_set(items: &[Value]) -> Result<(), Irregular> {
    if items.len() > MAX_ITEMS || items.iter().any(has_float) {
        return Err(Irregular);
    }
    Ok(())
}

/// Whether a value is or holds a float, whose JSON may not parse back to the same number.
fn has_float(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_f64(),
        Value::Array(items) => items.iter().any(has_float),
        Value::Object(map) => map.values().any(has_float),
        _ => false,
    }
}
