//! Sets of field paths in the `FieldsV1` form of `metadata.managedFields`.
//!
//! A path is a list of elements: `f:<field>` (a struct or map field), `k:<json object>` (an
//! item of an associative list, by its keys), `v:<json>` (an item of a set list) or `i:<n>`
//! (an item by index). A set is kept as the tree `FieldsV1` serialises: a node is a member when
//! the path to it is in the set; `.: {}` marks a member that also has members below it.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use serde_json::{Map, Value};

/// One path: its elements in `FieldsV1` form.
pub(super) type FieldPath = Vec<String>;

/// A set of field paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct FieldSet {
    member: bool,
    children: BTreeMap<String, FieldSet>,
}

impl FieldSet {
    /// Adds a path.
    pub fn insert(&mut self, path: &[String]) {
        let mut node = self;
        for element in path {
            node = node.children.entry(element.clone()).or_default();
        }
        node.member = true;
    }

    fn node(&self, path: &[String]) -> Option<&FieldSet> {
        let mut node = self;
        for element in path {
            node = node.children.get(element)?;
        }
        Some(node)
    }

    /// Whether the path is in the set.
    #[cfg(test)]
    pub fn contains(&self, path: &[String]) -> bool {
        self.node(path).is_some_and(|n| n.member)
    }

    /// Whether the path or any path below it is in the set.
    pub fn contains_prefix(&self, path: &[String]) -> bool {
        self.node(path).is_some_and(|n| !n.is_empty())
    }

    /// Whether the set has no paths.
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(FieldSet::is_empty)
    }

    /// Whether the path has members below it (not counting itself).
    pub fn has_children(&self, path: &[String]) -> bool {
        self.node(path)
            .is_some_and(|n| n.children.values().any(|c| !c.is_empty()))
    }

    /// Every path in the set, parents before children.
    pub fn paths(&self) -> Vec<FieldPath> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut FieldPath, out: &mut Vec<FieldPath>) {
        if self.member {
            out.push(prefix.clone());
        }
        for (element, child) in &self.children {
            prefix.push(element.clone());
            child.collect(prefix, out);
            prefix.pop();
        }
    }

    /// Adds every path of `other`.
    pub fn union(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (element, child) in &other.children {
            self.children
                .entry(element.clone())
                .or_default()
                .union(child);
        }
    }

    /// Adds the root path (the path the set is relative to).
    pub fn mark(&mut self) {
        self.member = true;
    }

    /// Adds the paths of `child`, each prefixed with `element`.
    pub fn graft(&mut self, element: String, child: FieldSet) {
        if child.is_empty() {
            return;
        }
        match self.children.entry(element) {
            Entry::Vacant(slot) => {
                slot.insert(child);
            }
            Entry::Occupied(mut slot) => slot.get_mut().union(&child),
        }
    }

    /// Removes every path of `other` (what [`FieldSet::difference`] gives, in place).
    pub fn subtract(&mut self, other: &FieldSet) {
        self.member &= !other.member;
        for (element, theirs) in &other.children {
            if let Some(mine) = self.children.get_mut(element) {
                mine.subtract(theirs);
                if mine.is_empty() {
                    self.children.remove(element);
                }
            }
        }
    }

    /// The paths of `self` not in `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && !other.member,
            children: BTreeMap::new(),
        };
        for (element, child) in &self.children {
            let rest = match other.children.get(element) {
                Some(o) => child.difference(o),
                None => child.clone(),
            };
            if !rest.is_empty() {
                out.children.insert(element.clone(), rest);
            }
        }
        out
    }

    /// The set in `FieldsV1` form.
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".into(), Value::Object(Map::new()));
        }
        for (element, child) in &self.children {
            if !child.is_empty() {
                map.insert(element.clone(), child.to_fields_v1());
            }
        }
        Value::Object(map)
    }

    /// Whether a `FieldsV1` value holds a path of this set; `value` must be in the form
    /// [`FieldSet::to_fields_v1`] gives ([`FieldSet::is_written_fields_v1`]).
    pub fn meets(&self, value: &Value) -> bool {
        let is_member = |v: &Value| {
            v.as_object()
                .is_some_and(|m| m.is_empty() || m.contains_key("."))
        };
        self.children.iter().any(|(element, child)| {
            value
                .get(element)
                .is_some_and(|v| (child.member && is_member(v)) || child.meets(v))
        })
    }

    /// Whether a `FieldsV1` value is what [`FieldSet::to_fields_v1`] gives for what
    /// [`FieldSet::from_fields_v1`] reads from it, and holds some path.
    pub fn is_written_fields_v1(value: &Value) -> bool {
        value
            .as_object()
            .is_some_and(|map| !map.is_empty() && !map.contains_key(".") && Self::is_written(map))
    }

    /// Whether the members below a written node are written nodes themselves: maps, each
    /// holding a path (`{}` for a member alone, `.` only for a member with members below).
    fn is_written(map: &Map<String, Value>) -> bool {
        map.iter().all(|(element, child)| {
            let Value::Object(child) = child else {
                return false;
            };
            if element == "." {
                return child.is_empty() && map.len() > 1;
            }
            ["f:", "k:", "v:", "i:"]
                .iter()
                .any(|p| element.starts_with(p))
                && Self::is_written(child)
        })
    }

    /// Reads a `FieldsV1` value (the root is not a member).
    pub fn from_fields_v1(value: &Value) -> Result<FieldSet, String> {
        let mut set = Self::read(value)?;
        set.member = false;
        Ok(set)
    }

    fn read(value: &Value) -> Result<FieldSet, String> {
        let Value::Object(map) = value else {
            return Err(format!("FieldsV1 nodes must be objects, got {value}"));
        };
        let mut set = FieldSet {
            member: map.is_empty(),
            children: BTreeMap::new(),
        };
        for (element, child) in map {
            if element == "." {
                set.member = true;
            } else if ["f:", "k:", "v:", "i:"]
                .iter()
                .any(|p| element.starts_with(p))
            {
                set.children.insert(element.clone(), Self::read(child)?);
            } else {
                return Err(format!("unknown FieldsV1 path element {element:?}"));
            }
        }
        Ok(set)
    }
}

/// A path as Kubernetes prints it in conflicts: `.spec.containers[name="nginx"].image`.
pub(super) fn display_path(path: &[String]) -> String {
    let mut out = String::new();
    for element in path {
        let (kind, rest) = element.split_at(2);
        match kind {
            "f:" => {
                out.push('.');
                out.push_str(rest);
            }
            "k:" => {
                let keys: Vec<String> = match serde_json::from_str::<Map<String, Value>>(rest) {
                    Ok(keys) => keys.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                    Err(_) => vec![rest.to_owned()],
                };
                out.push_str(&format!("[{}]", keys.join(",")));
            }
            "v:" => out.push_str(&format!("[={rest}]")),
            _ => out.push_str(&format!("[{rest}]")),
        }
    }
    out
}
