//! What label and field selectors read of a stored object, decoded in one pass over its bytes:
//! its metadata without `managedFields` (the bulk of most objects, skipped unallocated), the
//! scalar fields of `spec` and `status` (every field selector names one, e.g. `spec.nodeName`,
//! `status.phase`), and every other top-level field whole.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The selectable part of the stored JSON `stored`, with `metadata.resourceVersion` set to
/// `resource_version`.
pub fn selectable(stored: &[u8], resource_version: &str) -> serde_json::Result<Value> {
    let mut de = serde_json::Deserializer::from_slice(stored);
    let mut obj = Prune::Object.deserialize(&mut de)?.unwrap_or_default();
    de.end()?;
    if let Some(Value::Object(m)) = obj.get_mut("metadata") {
        m.insert("resourceVersion".into(), resource_version.into());
    }
    Ok(obj)
}

/// How much of a value is kept.
#[derive(Clone, Copy, PartialEq)]
enum Prune {
    /// The object: `metadata`, `spec` and `status` pruned, other fields whole.
    Object,
    /// Metadata: every field but `managedFields`.
    Metadata,
    /// `spec` or `status`: the scalar fields only.
    Scalars,
    /// A field of `spec` or `status`: kept if it is a scalar.
    Scalar,
    /// All of it.
    Whole,
}

impl Prune {
    /// How a field `key` of an object pruned as `self` is pruned; `None` skips it.
    fn field(self, key: &str) -> Option<Prune> {
        match (self, key) {
            (Prune::Object, "metadata") => Some(Prune::Metadata),
            (Prune::Object, "spec" | "status") => Some(Prune::Scalars),
            (Prune::Metadata, "managedFields") => None,
            (Prune::Scalars, _) => Some(Prune::Scalar),
            _ => Some(Prune::Whole),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Prune {
    /// `None` for what is not kept.
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Prune {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Value>, A::Error> {
        if self == Prune::Scalar {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(None);
        }
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            match self.field(&key) {
                Some(prune) => {
                    if let Some(value) = map.next_value_seed(prune)? {
                        out.insert(key, value);
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(Value::Object(out)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Value>, A::Error> {
        if self == Prune::Scalar {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(None);
        }
        let mut out = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            out.push(item);
        }
        Ok(Some(Value::Array(out)))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Option<Value>, E> {
        Ok(Some(v.into()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<Value>, E> {
        Ok(Some(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<Value>, E> {
        Ok(Some(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<Value>, E> {
        Ok(Some(v.into()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<Value>, E> {
        Ok(Some(v.into()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Option<Value>, E> {
        Ok(Some(v.into()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<Value>, E> {
        Ok(Some(Value::Null))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_metadata_but_managed_fields_and_the_scalars_of_spec_and_status() {
        let stored = br#"{"kind":"Pod","metadata":{"labels":{"app":"x"},"managedFields":[{"manager":"m"}],"name":"a","resourceVersion":"3"},"spec":{"containers":[{"name":"c"}],"hostNetwork":true,"nodeName":"n1","priority":-5,"securityContext":{}},"status":{"conditions":[],"phase":"Running"},"involvedObject":{"kind":"Pod"},"count":2}"#;
        assert_eq!(
            selectable(stored, "7").unwrap(),
            json!({
                "kind": "Pod",
                "metadata": {"labels": {"app": "x"}, "name": "a", "resourceVersion": "7"},
                "spec": {"hostNetwork": true, "nodeName": "n1", "priority": -5},
                "status": {"phase": "Running"},
                "involvedObject": {"kind": "Pod"},
                "count": 2,
            })
        );
    }

    #[test]
    fn objects_without_metadata_or_with_odd_spec_are_kept_as_they_are() {
        assert_eq!(
            selectable(br#"{"kind":"X","spec":[1,{"a":null}],"status":"up"}"#, "7").unwrap(),
            json!({"kind": "X", "spec": [1, {"a": null}], "status": "up"})
        );
    }

    #[test]
    fn what_does_not_parse_is_an_error() {
        for bad in [
            &b"{not json"[..],
            b"{\"a\":1} x",
            b"{\"metadata\":{\"name\":}}",
        ] {
            assert!(selectable(bad, "1").is_err(), "{bad:?}");
        }
    }
}
