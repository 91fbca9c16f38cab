//! Causes worded and valued as apimachinery's `field.Error`s print them (Go's `%v`, `%q`
//! and `%#v` of decoded JSON values).

use crate::status::Cause;
use serde_json::{Number, Value};

/// The field of a kube-openapi error named `name`: apiextensions-apiserver trims one leading
/// dot, and an error about the root has no path, which Go prints `<nil>`.
pub(super) fn field(name: &str) -> String {
    match name {
        "" | "." => "<nil>".to_string(),
        n => n.strip_prefix('.').unwrap_or(n).to_string(),
    }
}

/// `Invalid value: <shown>: detail`, `shown` being already rendered (see [`shown`]).
pub(super) fn invalid(field: String, shown: String, detail: impl std::fmt::Display) -> Cause {
    Cause {
        reason: "FieldValueInvalid",
        message: format!("Invalid value: {shown}: {detail}"),
        field,
    }
}

/// kube-openapi's type error (`field.TypeInvalid`): `Invalid value: "string": spec.x in
/// body must be of type integer: "string"` — the value shown is the observed type's name
/// (or, for a format, the string itself).
pub(super) fn type_invalid(name: &str, type_name: &str, observed: &str) -> Cause {
    let observed = quote(observed);
    Cause {
        reason: "FieldValueTypeInvalid",
        message: format!(
            "Invalid value: {observed}: {name} in body must be of type {type_name}: {observed}"
        ),
        field: field(name),
    }
}

/// `Unsupported value: "c": supported values: "a", "b"`.
pub(super) fn not_supported(field: String, value: &Value, supported: &[Value]) -> Cause {
    let list: Vec<String> = supported
        .iter()
        .map(|v| match v {
            Value::String(s) => quote(s),
            other => quote(&other.to_string()),
        })
        .collect();
    Cause {
        reason: "FieldValueNotSupported",
        message: format!(
            "Unsupported value: {}: supported values: {}",
            shown(value),
            list.join(", ")
        ),
        field,
    }
}

/// `Too long: may not be more than 5 bytes` (the value is not shown; kube-apiserver 1.32
/// says bytes though maxLength counts characters).
pub(super) fn too_long(field: String, max: i64) -> Cause {
    Cause {
        reason: "FieldValueTooLong",
        message: format!("Too long: may not be more than {max} bytes"),
        field,
    }
}

/// `Too many: 3: must have at most 2 items` (also for maxProperties, as upstream).
pub(super) fn too_many(field: String, actual: usize, max: i64) -> Cause {
    Cause {
        reason: "FieldValueTooMany",
        message: format!("Too many: {actual}: must have at most {max} items"),
        field,
    }
}

/// `Duplicate value: "a"`.
pub(super) fn duplicate(field: String, value: &Value) -> Cause {
    Cause {
        reason: "FieldValueDuplicate",
        message: format!("Duplicate value: {}", shown(value)),
        field,
    }
}

/// A bad value as `field.Error` shows it: strings quoted, numbers and booleans bare, `null`
/// as `"null"`, objects and arrays in Go syntax (`map[string]interface {}{"a":1}`).
pub(super) fn shown(v: &Value) -> String {
    match v {
        Value::Null => quote("null"),
        Value::String(s) => quote(s),
        _ => go_syntax(v),
    }
}

/// Go's `%q`, near enough.
pub(super) fn quote(s: &str) -> String {
    format!("{s:?}")
}

/// Go's `%#v` of a decoded JSON value.
fn go_syntax(v: &Value) -> String {
    match v {
        Value::Null => "interface {}(nil)".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number(n),
        Value::String(s) => quote(s),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(go_syntax).collect();
            format!("[]interface {{}}{{{}}}", items.join(", "))
        }
        Value::Object(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}:{}", quote(k), go_syntax(v)))
                .collect();
            format!("map[string]interface {{}}{{{}}}", items.join(", "))
        }
    }
}

/// A JSON number as Go prints what it decodes to: an `int64`, else a `float64`.
pub(super) fn number(n: &Number) -> String {
    match n.as_i64() {
        Some(i) => i.to_string(),
        None => go_float(n.as_f64().unwrap_or(f64::NAN)),
    }
}

/// Go's `%v` of a `float64`: the shortest digits, in exponent form (`1e+06`, `1.5e-05`)
/// when the exponent is below -4 or at least 6.
pub(super) fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if f != 0.0 && !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}
