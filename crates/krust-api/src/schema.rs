//! OpenAPI definitions of every served kind.
//!
//! The definitions are generated once from k8s-openapi's `schemars::JsonSchema` impls in
//! OpenAPI 3 form (`$ref: "#/components/schemas/<name>"`, `allOf: [{$ref}]` where a reference
//! carries a description), named by their full OpenAPI names (e.g.
//! `io.k8s.api.apps.v1.Deployment`). Each kind's root definition (and its `...List`) carries
//! `x-kubernetes-group-version-kind`; properties carry Kubernetes' patch and list metadata
//! (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`, `x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`) from the checked-in table in
//! [`patch_meta`].

mod described;
mod generate;
pub mod patch_meta;
#[cfg(test)]
mod tests;

use std::sync::LazyLock;

use serde_json::{Map, Value};

pub use described::{Described, described};

/// The prefix of every `$ref` in the definitions.
pub const REF_PREFIX: &str = "#/components/schemas/";

struct Built {
    definitions: Map<String, Value>,
    kinds: Vec<generate::Kind>,
}

static BUILT: LazyLock<Built> = LazyLock::new(|| {
    let (definitions, kinds) = generate::build();
    Built { definitions, kinds }
});

/// Every definition: name → OpenAPI 3 schema.
pub fn definitions() -> &'static Map<String, Value> {
    &BUILT.definitions
}

/// One definition by its full name.
pub fn definition(name: &str) -> Option<&'static Value> {
    BUILT.definitions.get(name)
}

/// The name of the root definition of a served kind (lists included, e.g. `PodList`).
pub fn definition_for(group: &str, version: &str, kind: &str) -> Option<&'static str> {
    BUILT
        .kinds
        .iter()
        .find(|k| k.group == group && k.version == version && k.kind == kind)
        .map(|k| k.definition.as_str())
}

/// Every served `(group, version, kind, definition)`, lists included.
pub fn served_kinds()
-> impl Iterator<Item = (&'static str, &'static str, &'static str, &'static str)> {
    BUILT
        .kinds
        .iter()
        .map(|k| (k.group, k.version, k.kind.as_str(), k.definition.as_str()))
}

/// The shape of a property's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A string, number, boolean, or a scalar-typed definition (Quantity, Time, IntOrString).
    Scalar,
    /// A struct (a definition with properties) or a free-form object.
    Object,
    /// An array; [`Property::definition`] describes its items.
    List,
    /// A map (`additionalProperties`); [`Property::definition`] describes its values.
    Map,
}

/// A property of a definition: what its value is, and how Kubernetes patches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// The shape of the value.
    pub shape: Shape,
    /// The definition of the value (of the items for lists, of the values for maps), if the
    /// value (or item) is a named definition.
    pub definition: Option<&'static str>,
    /// `x-kubernetes-patch-strategy`, e.g. `merge`, `retainKeys`, `merge,retainKeys`.
    pub patch_strategy: Option<&'static str>,
    /// `x-kubernetes-patch-merge-key`.
    pub merge_key: Option<&'static str>,
    /// `x-kubernetes-list-type`: `atomic`, `set` or `map`.
    pub list_type: Option<&'static str>,
    /// `x-kubernetes-list-map-keys`.
    pub list_map_keys: Vec<&'static str>,
    /// `x-kubernetes-map-type` of the property (`atomic` or `granular`).
    pub map_type: Option<&'static str>,
}

impl Property {
    fn strategies(&self) -> impl Iterator<Item = &'static str> {
        self.patch_strategy.into_iter().flat_map(|s| s.split(','))
    }

    /// Whether strategic merge patch merges this list (`patchStrategy` contains `merge`).
    pub fn merges(&self) -> bool {
        self.strategies().any(|s| s == "merge")
    }

    /// Whether the patch strategy contains `retainKeys`.
    pub fn retains_keys(&self) -> bool {
        self.strategies().any(|s| s == "retainKeys")
    }

    /// Whether the patch strategy is `replace`.
    pub fn replaces(&self) -> bool {
        self.strategies().any(|s| s == "replace")
    }
}

fn str_at<'a>(schema: &'a Value, key: &str) -> Option<&'a str> {
    schema.get(key).and_then(Value::as_str)
}

/// The definition a schema refers to: `{$ref}` or `{allOf: [{$ref}]}`.
fn ref_name(schema: &'static Value) -> Option<&'static str> {
    let reference = str_at(schema, "$ref").or_else(|| {
        schema
            .get("allOf")?
            .as_array()?
            .iter()
            .find_map(|s| s.get("$ref")?.as_str())
    })?;
    reference.strip_prefix(REF_PREFIX)
}

/// Whether a named definition is a struct (rather than a scalar such as Quantity or Time).
fn is_struct(definitions: &Map<String, Value>, name: &str) -> bool {
    definitions
        .get(name)
        .is_some_and(|d| d.get("properties").is_some() || str_at(d, "type") == Some("object"))
}

/// Describes a property schema.
fn describe(definitions: &Map<String, Value>, schema: &'static Value) -> Property {
    let (shape, definition) = if let Some(name) = ref_name(schema) {
        (
            if is_struct(definitions, name) {
                Shape::Object
            } else {
                Shape::Scalar
            },
            Some(name),
        )
    } else {
        match str_at(schema, "type") {
            Some("array") => (Shape::List, schema.get("items").and_then(ref_name)),
            Some("object") => match schema.get("additionalProperties") {
                Some(values) if values.is_object() => (Shape::Map, ref_name(values)),
                _ => (Shape::Object, None),
            },
            _ => (Shape::Scalar, None),
        }
    };
    Property {
        shape,
        definition,
        patch_strategy: str_at(schema, "x-kubernetes-patch-strategy"),
        merge_key: str_at(schema, "x-kubernetes-patch-merge-key"),
        list_type: str_at(schema, "x-kubernetes-list-type"),
        list_map_keys: schema
            .get("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .map(|keys| keys.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default(),
        map_type: str_at(schema, "x-kubernetes-map-type"),
    }
}

/// The property `property` of definition `definition`: the definition of its value (following
/// `$ref`, `allOf` and array items) and its patch metadata. For map-shaped definitions any key
/// resolves to the `additionalProperties` schema.
pub fn property(definition: &str, property: &str) -> Option<Property> {
    match described(definition) {
        Some(d) => d.property(property).cloned(),
        None => property_in(definitions(), definition, property),
    }
}

/// [`property`] within another set of definitions (same form as [`definitions`]).
pub fn property_in(
    definitions: &'static Map<String, Value>,
    definition: &str,
    property: &str,
) -> Option<Property> {
    let def = definitions.get(definition)?;
    let schema = def
        .get("properties")
        .and_then(|props| props.get(property))
        .or_else(|| def.get("additionalProperties").filter(|v| v.is_object()))?;
    Some(describe(definitions, schema))
}

/// Whether a definition is an atomic struct (`x-kubernetes-map-type: atomic`).
pub fn is_atomic_struct(definition: &str) -> bool {
    self::definition(definition).and_then(|d| str_at(d, "x-kubernetes-map-type")) == Some("atomic")
}
