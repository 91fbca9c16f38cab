//! Embedded resources' type and object meta (apiextensions-apiserver's
//! `schema/objectmeta` validation), below the root (whose own are validated elsewhere).

use super::render::{self, shown};
use super::{EMBEDDED_RESOURCE, child, flag, walk};
use crate::status::Cause;
use crate::validation::dns1035_label;
use serde_json::{Map, Value};

/// The causes of the embedded resources in `obj`.
pub(super) fn validate(schema: &Value, obj: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    // The root is a resource too, but its apiVersion, kind and metadata are not ours.
    walk(schema, obj, "", &mut |s, x, path| {
        if let Value::Object(map) = x
            && !path.is_empty()
            && flag(s, EMBEDDED_RESOURCE)
        {
            resource(map, path, &mut out);
        }
    });
    out
}

/// An embedded object needs a string `apiVersion` (a group version) and `kind` (a
/// DNS-1035 label but for case); a `metadata` must be an object. (Upstream also validates
/// that metadata as an ObjectMeta; krust does not yet.)
fn resource(map: &Map<String, Value>, path: &str, out: &mut Vec<Cause>) {
    for required in ["apiVersion", "kind"] {
        if !map.contains_key(required) {
            out.push(Cause::required(child(path, required), "must not be empty"));
        }
    }
    for (k, v) in map {
        let at = child(path, k);
        let why = match (k.as_str(), v) {
            ("apiVersion" | "kind", Value::String(s)) if s.is_empty() => "must not be empty".into(),
            ("apiVersion" | "kind", v) if !v.is_string() => "must be a string".into(),
            ("apiVersion", Value::String(s)) if s.matches('/').count() > 1 => {
                format!("unexpected GroupVersion string: {s}")
            }
            ("kind", Value::String(s)) => {
                let errs = dns1035_label(&s.to_lowercase());
                if errs.is_empty() {
                    continue;
                }
                format!(
                    "may have mixed case, but should otherwise match: {}",
                    errs.join(",")
                )
            }
            ("metadata", Value::Null | Value::Object(_)) => continue,
            ("metadata", v) => {
                let kind = match v {
                    Value::String(_) => "string",
                    Value::Number(_) => "number",
                    Value::Bool(_) => "bool",
                    _ => "array",
                };
                format!("json: cannot unmarshal {kind} into Go value of type v1.ObjectMeta")
            }
            _ => continue,
        };
        out.push(render::invalid(at, shown(v), why));
    }
}
