//! The value validations, as kube-openapi's `SchemaValidator` runs them for
//! apiextensions-apiserver: per value, the type, then `allOf`/`anyOf`/`oneOf`/`not`, then
//! the string, format, number, array, enum and object checks that apply to the value's
//! kind — all of them, one failing does not stop the others.
//!
//! Paths are kube-openapi's (see [`super::validate`]); a cause's field is the path with
//! apiextensions-apiserver's trimming (see [`render::field`]).

use super::render::{self, field, quote};
use super::{checks, child};
use crate::status::Cause;
use serde_json::{Map, Value};

/// The causes of `obj` against `schema`.
pub(super) fn validate(schema: &Value, obj: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    value(schema, obj, "", &mut out);
    out
}

/// Validates `x` at `path` against `s`.
fn value(s: &Value, x: &Value, path: &str, out: &mut Vec<Cause>) {
    if x.is_null() {
        // Only the type (nullable) and enum checks look at a null.
        checks::null_type(s, path, out);
        checks::enumeration(s, x, path, out);
        return;
    }
    checks::value_type(s, x, path, out);
    composition(s, x, path, out);
    match x {
        Value::String(text) => {
            checks::string(s, text, path, out);
            checks::format(s, text, path, out);
        }
        Value::Number(n) => checks::number(s, n, path, out),
        Value::Array(list) => array(s, list, path, out),
        _ => {}
    }
    checks::enumeration(s, x, path, out);
    if let Value::Object(map) = x {
        object(s, map, path, out);
    }
}

/// The causes of `x` against one sub-schema.
fn against(s: &Value, x: &Value, path: &str) -> Vec<Cause> {
    let mut out = Vec::new();
    value(s, x, path, &mut out);
    out
}

/// `allOf`, `anyOf`, `oneOf` and `not` (value validations only in a structural schema).
/// Their own messages are not field errors upstream: apiextensions-apiserver reports them
/// at the root (`<nil>`) with the value `""`, naming the path inside.
fn composition(s: &Value, x: &Value, path: &str, out: &mut Vec<Cause>) {
    let whole = |why: String| render::invalid(field(""), quote(""), why);
    let schemas = |key: &str| -> Vec<&Value> {
        match s.get(key) {
            Some(Value::Array(list)) => list.iter().filter(|v| v.is_object()).collect(),
            _ => Vec::new(),
        }
    };
    let any_of = schemas("anyOf");
    if !any_of.is_empty() {
        let results: Vec<Vec<Cause>> = any_of.iter().map(|sub| against(sub, x, path)).collect();
        if !results.iter().any(Vec::is_empty) {
            out.push(whole(format!(
                "{} must validate at least one schema (anyOf)",
                quote(path)
            )));
            // Upstream keeps the alternative that passed the most checks; the one with the
            // fewest causes stands in for it.
            out.extend(results.into_iter().min_by_key(Vec::len).unwrap_or_default());
        }
    }
    let one_of = schemas("oneOf");
    if !one_of.is_empty() {
        let results: Vec<Vec<Cause>> = one_of.iter().map(|sub| against(sub, x, path)).collect();
        let valid = results.iter().filter(|r| r.is_empty()).count();
        if valid != 1 {
            let found = match valid {
                0 => "Found none valid".to_string(),
                n => format!("Found {n} valid alternatives"),
            };
            out.push(whole(format!(
                "{} must validate one and only one schema (oneOf). {found}",
                quote(path)
            )));
            if valid == 0 {
                out.extend(results.into_iter().min_by_key(Vec::len).unwrap_or_default());
            }
        }
    }
    let all_of = schemas("allOf");
    if !all_of.is_empty() {
        let mut valid = 0;
        for sub in &all_of {
            let causes = against(sub, x, path);
            valid += usize::from(causes.is_empty());
            out.extend(causes);
        }
        if valid != all_of.len() {
            let none = if valid == 0 { ". None validated" } else { "" };
            out.push(whole(format!(
                "{} must validate all the schemas (allOf){none}",
                quote(path)
            )));
        }
    }
    if let Some(not) = s.get("not").filter(|n| n.is_object())
        && against(not, x, path).is_empty()
    {
        out.push(whole(format!(
            "{} must not validate the schema (not)",
            quote(path)
        )));
    }
}

/// `min<What>` and `max<What>` (`Items`, `Properties`) of a value holding `n` of them.
fn counted(s: &Value, n: usize, what: &str, path: &str, out: &mut Vec<Cause>) {
    if let Some(min) = checks::count(s, &format!("min{what}"))
        && (n as i64) < min
    {
        let noun = what.to_lowercase();
        let why = format!("{path} in body should have at least {min} {noun}");
        out.push(render::invalid(field(path), n.to_string(), why));
    }
    if let Some(max) = checks::count(s, &format!("max{what}"))
        && (n as i64) > max
    {
        out.push(render::too_many(field(path), n, max));
    }
}

/// `items` (each at `path[i]`), `minItems`, `maxItems`, `uniqueItems`.
fn array(s: &Value, list: &[Value], path: &str, out: &mut Vec<Cause>) {
    if let Some(items) = super::items(s) {
        for (i, item) in list.iter().enumerate() {
            value(items, item, &format!("{path}[{i}]"), out);
        }
    }
    counted(s, list.len(), "Items", path, out);
    let unique = super::flag(s, "uniqueItems");
    if unique && list.iter().enumerate().any(|(i, a)| list[..i].contains(a)) {
        let why = format!("{path} in body shouldn't contain duplicates");
        out.push(render::invalid(field(path), quote(""), why));
    }
}

/// `minProperties`, `maxProperties`, `additionalProperties` (false: each undeclared key is
/// forbidden; a schema: each undeclared value is validated at `path.key`), `properties`,
/// `required`.
fn object(s: &Value, map: &Map<String, Value>, path: &str, out: &mut Vec<Cause>) {
    counted(s, map.len(), "Properties", path, out);
    let declared = |k: &str| super::property(s, k).is_some();
    match s.get("additionalProperties") {
        Some(Value::Bool(false)) => {
            for k in map.keys().filter(|k| !declared(k)) {
                let why = format!("{path}.{k} in body is a forbidden property");
                out.push(render::invalid(field(path), quote(k), why));
            }
        }
        Some(extra @ Value::Object(_)) => {
            for (k, v) in map.iter().filter(|(k, _)| !declared(k)) {
                value(extra, v, &format!("{path}.{k}"), out);
            }
        }
        _ => {}
    }
    for (k, v) in map {
        if let Some(p) = super::property(s, k) {
            value(p, v, &child(path, k), out);
        }
    }
    if let Some(Value::Array(required)) = s.get("required") {
        for k in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(k) {
                out.push(Cause::required(field(&format!("{path}.{k}")), ""));
            }
        }
    }
}
