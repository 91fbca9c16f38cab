//! Lean views: structs that decode only the fields their reader uses (the scheduler's
//! informers, the sim kubelet's workers), served by the API as the full kinds. What a view
//! skips is stepped over by the decoder, never allocated, which keeps watch caches cheap when
//! thousands of objects change per second. The nearest thing upstream is client-go's metadata
//! informers (`PartialObjectMetadata`); here each reader picks its fields.
//!
//! ```ignore
//! #[derive(Deserialize)]
//! pub struct Pod {
//!     #[serde(default, deserialize_with = "metadata")]
//!     pub metadata: ObjectMeta,
//!     pub spec: Option<PodSpec>,
//! }
//! krust_component::core_v1_view!(Pod, "Pod", "pods", NamespaceResourceScope);
//!
//! fn metadata<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
//!     view::lean_metadata(d, MetaFields::NAME.and(MetaFields::UID))
//! }
//! ```
//!
//! - [`core_v1_view!`] makes a view a `kube::Resource`, so that `Api`s and watchers decode
//!   into it.
//! - [`lean_metadata`] decodes the `metadata` fields a view names ([`MetaFields`]) into an
//!   `ObjectMeta`, skipping the rest (`managedFields` above all).
//! - [`null_as_default`] reads `null` or absent as the type's default.

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::fmt;

#[doc(hidden)]
pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
#[doc(hidden)]
pub use kube::Resource;

/// Implements `kube::Resource` for a view of a core/v1 kind (`$kind`, plural `$plural`,
/// `$scope` a `k8s_openapi` scope), a struct with a `metadata: ObjectMeta` field, so that
/// kube-rs `Api`s and watchers decode into it.
#[macro_export]
macro_rules! core_v1_view {
    ($ty:ty, $kind:literal, $plural:literal, $scope:ty) => {
        impl $crate::view::Resource for $ty {
            type DynamicType = ();
            type Scope = $scope;

            fn kind(_: &()) -> std::borrow::Cow<'_, str> {
                std::borrow::Cow::Borrowed($kind)
            }
            fn group(_: &()) -> std::borrow::Cow<'_, str> {
                std::borrow::Cow::Borrowed("")
            }
            fn version(_: &()) -> std::borrow::Cow<'_, str> {
                std::borrow::Cow::Borrowed("v1")
            }
            fn plural(_: &()) -> std::borrow::Cow<'_, str> {
                std::borrow::Cow::Borrowed($plural)
            }
            fn meta(&self) -> &$crate::view::ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut $crate::view::ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

/// `null` or absent as the type's default (for `#[serde(default, deserialize_with = …)]`).
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A set of `metadata` fields a view reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetaFields(u16);

impl MetaFields {
    /// `name`.
    pub const NAME: Self = Self(1);
    /// `namespace`.
    pub const NAMESPACE: Self = Self(1 << 1);
    /// `uid`.
    pub const UID: Self = Self(1 << 2);
    /// `resourceVersion`.
    pub const RESOURCE_VERSION: Self = Self(1 << 3);
    /// `labels`.
    pub const LABELS: Self = Self(1 << 4);
    /// `annotations`.
    pub const ANNOTATIONS: Self = Self(1 << 5);
    /// `ownerReferences`.
    pub const OWNER_REFERENCES: Self = Self(1 << 6);
    /// `creationTimestamp`.
    pub const CREATION_TIMESTAMP: Self = Self(1 << 7);
    /// `deletionTimestamp`.
    pub const DELETION_TIMESTAMP: Self = Self(1 << 8);
    /// `deletionGracePeriodSeconds`.
    pub const DELETION_GRACE_PERIOD_SECONDS: Self = Self(1 << 9);
    /// `name`, `namespace`, `uid` and `resourceVersion`: what every view reads.
    pub const IDENTITY: Self = Self(0b1111);

    /// Both sets.
    pub const fn and(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    fn has(self, field: Self) -> bool {
        self.0 & field.0 != 0
    }
}

/// Decodes the `metadata` fields in `fields` (`null` or absent: none); the rest is skipped.
pub fn lean_metadata<'de, D: Deserializer<'de>>(
    d: D,
    fields: MetaFields,
) -> Result<ObjectMeta, D::Error> {
    d.deserialize_option(Lean(fields))
}

/// The visitor of [`lean_metadata`].
struct Lean(MetaFields);

impl<'de> Visitor<'de> for Lean {
    type Value = ObjectMeta;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("object metadata")
    }

    fn visit_none<E: de::Error>(self) -> Result<ObjectMeta, E> {
        Ok(ObjectMeta::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<ObjectMeta, E> {
        Ok(ObjectMeta::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<ObjectMeta, D::Error> {
        d.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ObjectMeta, A::Error> {
        let mut m = ObjectMeta::default();
        while let Some(Key(field)) = map.next_key()? {
            match field.filter(|f| self.0.has(*f)) {
                Some(MetaFields::NAME) => m.name = map.next_value()?,
                Some(MetaFields::NAMESPACE) => m.namespace = map.next_value()?,
                Some(MetaFields::UID) => m.uid = map.next_value()?,
                Some(MetaFields::RESOURCE_VERSION) => m.resource_version = map.next_value()?,
                Some(MetaFields::LABELS) => m.labels = map.next_value()?,
                Some(MetaFields::ANNOTATIONS) => m.annotations = map.next_value()?,
                Some(MetaFields::OWNER_REFERENCES) => m.owner_references = map.next_value()?,
                Some(MetaFields::CREATION_TIMESTAMP) => m.creation_timestamp = map.next_value()?,
                Some(MetaFields::DELETION_TIMESTAMP) => m.deletion_timestamp = map.next_value()?,
                Some(MetaFields::DELETION_GRACE_PERIOD_SECONDS) => {
                    m.deletion_grace_period_seconds = map.next_value()?
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(m)
    }
}

/// A `metadata` key: the field it names, if a view can read it (read without allocating).
struct Key(Option<MetaFields>);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_identifier(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a metadata field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
        Ok(Key(match key {
            "name" => Some(MetaFields::NAME),
            "namespace" => Some(MetaFields::NAMESPACE),
            "uid" => Some(MetaFields::UID),
            "resourceVersion" => Some(MetaFields::RESOURCE_VERSION),
            "labels" => Some(MetaFields::LABELS),
            "annotations" => Some(MetaFields::ANNOTATIONS),
            "ownerReferences" => Some(MetaFields::OWNER_REFERENCES),
            "creationTimestamp" => Some(MetaFields::CREATION_TIMESTAMP),
            "deletionTimestamp" => Some(MetaFields::DELETION_TIMESTAMP),
            "deletionGracePeriodSeconds" => Some(MetaFields::DELETION_GRACE_PERIOD_SECONDS),
            _ => None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Deserialize)]
    struct View {
        #[serde(default, deserialize_with = "metadata")]
        metadata: ObjectMeta,
        #[serde(default, deserialize_with = "null_as_default")]
        items: Vec<String>,
    }

    fn metadata<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
        lean_metadata(d, MetaFields::IDENTITY.and(MetaFields::LABELS))
    }

    #[test]
    fn only_the_named_metadata_fields_are_decoded() {
        let view: View = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u", "resourceVersion": "7",
                "labels": {"app": "web"}, "annotations": {"a": "b"}, "generation": 3,
                "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]},
            "items": ["x"]
        }))
        .unwrap();
        let m = view.metadata;
        assert_eq!(m.name.as_deref(), Some("p"));
        assert_eq!(m.namespace.as_deref(), Some("ns"));
        assert_eq!(m.uid.as_deref(), Some("u"));
        assert_eq!(m.resource_version.as_deref(), Some("7"));
        assert_eq!(m.labels.unwrap()["app"], "web");
        assert!(m.annotations.is_none() && m.managed_fields.is_none() && m.generation.is_none());
        assert_eq!(view.items, ["x"]);
    }

    #[test]
    fn null_or_absent_metadata_and_fields_are_defaults() {
        let view: View = serde_json::from_value(json!({"metadata": null, "items": null})).unwrap();
        assert_eq!(view.metadata, ObjectMeta::default());
        assert!(view.items.is_empty());
        let view: View = serde_json::from_str("{}").unwrap();
        assert_eq!(view.metadata, ObjectMeta::default());
    }

    #[test]
    fn a_wrongly_typed_field_that_is_read_is_an_error() {
        let bad = json!({"metadata": {"name": 5}});
        assert!(serde_json::from_value::<View>(bad).is_err());
        let skipped = json!({"metadata": {"annotations": 5}});
        assert!(serde_json::from_value::<View>(skipped).is_ok());
    }
}
