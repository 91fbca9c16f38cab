//! A cache of what the served definitions say about each property.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

use serde_json::{Map, Value};

use super::{Property, definitions, describe, property_in};

/// What [`definitions`] say about one definition, worked out once: looking a property up and
/// describing it takes several map lookups, and decoding, patches and managedFields tracking
/// look up every key of every object they walk.
pub struct Described {
    /// Every property of the definition, described ([`property_in`]).
    properties: HashMap<&'static str, Property, Names>,
    /// The description of any other key, for map-shaped definitions (`additionalProperties`).
    other: Option<Property>,
    /// Whether the definition is an atomic struct (`x-kubernetes-map-type: atomic`).
    pub atomic: bool,
    /// Whether an associative list or a set may occur in values of the definition
    /// (conservatively: free-form definitions with `additionalProperties` may hold anything).
    pub holds_lists: bool,
}

impl Described {
    /// The property `key`, as [`property_in`] describes it.
    pub fn property(&self, key: &str) -> Option<&Property> {
        self.properties.get(key).or(self.other.as_ref())
    }
}

/// The description of one of the served [`definitions`].
pub fn described(definition: &str) -> Option<&'static Described> {
    DESCRIBED.get(definition)
}

static DESCRIBED: LazyLock<HashMap<&'static str, Described, Names>> =
    LazyLock::new(|| describe_all(definitions()));

/// Describes every definition.
fn describe_all(
    definitions: &'static Map<String, Value>,
) -> HashMap<&'static str, Described, Names> {
    let not_atomic_list = |p: &Property| match p.list_type {
        Some(list_type) => list_type == "map" || list_type == "set",
        None => p.merges(),
    };
    let mut all: HashMap<&'static str, Described, Names> = definitions
        .iter()
        .map(|(name, def)| {
            let properties: HashMap<&'static str, Property, Names> = def
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|props| props.keys())
                .filter_map(|key| Some((key.as_str(), property_in(definitions, name, key)?)))
                .collect();
            let other = def
                .get("additionalProperties")
                .filter(|v| v.is_object())
                .map(|schema| describe(definitions, schema));
            let holds_lists = other.is_some() || properties.values().any(not_atomic_list);
            let atomic = def.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic");
            let described = Described {
                properties,
                other,
                atomic,
                holds_lists,
            };
            (name.as_str(), described)
        })
        .collect();
    // A definition holds lists if the value of one of its properties does.
    loop {
        let grown: Vec<&'static str> = all
            .iter()
            .filter(|(_, d)| {
                !d.holds_lists
                    && d.properties.values().any(|p| {
                        p.definition
                            .is_some_and(|def| all.get(def).is_some_and(|d| d.holds_lists))
                    })
            })
            .map(|(name, _)| *name)
            .collect();
        if grown.is_empty() {
            return all;
        }
        for name in grown {
            if let Some(d) = all.get_mut(name) {
                d.holds_lists = true;
            }
        }
    }
}

/// Hashes the cache's keys, names from the definitions, faster than the default SipHash (whose
/// resistance to chosen collisions a table built once from fixed names does not need); the
/// mixing step is rustc's FxHasher's.
#[derive(Default)]
struct NameHasher(u64);

impl NameHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Names = BuildHasherDefault<NameHasher>;
