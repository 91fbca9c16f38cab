//! The checks of one value (kube-openapi's type, string, format, number and enum
//! validators), with their messages.

use super::render::{self, field, go_float, quote};
use super::{INT_OR_STRING, flag, formats};
use crate::status::Cause;
use regex::Regex;
use serde_json::{Number, Value};
use std::cell::RefCell;
use std::collections::HashMap;

/// A non-negative count keyword (`minItems`, `maxLength`, …).
pub(super) fn count(s: &Value, key: &str) -> Option<i64> {
    let v = s.get(key)?;
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
}

/// The declared types: `type`, or integer and string for `x-kubernetes-int-or-string`.
fn types(s: &Value) -> Vec<&str> {
    if flag(s, INT_OR_STRING) {
        return vec!["integer", "string"];
    }
    match s.get("type").and_then(Value::as_str) {
        Some(t) if !t.is_empty() => vec![t],
        _ => Vec::new(),
    }
}

/// A null is a type error where a type is declared, unless `nullable`.
pub(super) fn null_type(s: &Value, path: &str, out: &mut Vec<Cause>) {
    let types = types(s);
    if !types.is_empty() && !types.contains(&"null") && !flag(s, "nullable") {
        out.push(render::type_invalid(path, &types.join(","), "null"));
    }
}

/// The JSON type of a non-null value, and the format Go gives what it decodes to.
fn observed(x: &Value) -> (&'static str, &'static str) {
    match x {
        Value::Number(n) if n.is_i64() => ("integer", "int64"),
        Value::Number(_) => ("number", "float64"),
        Value::String(_) => ("string", ""),
        Value::Bool(_) => ("boolean", ""),
        Value::Array(_) => ("array", ""),
        _ => ("object", ""),
    }
}

/// The type check: a whole number is a valid integer, an integer a valid number. As
/// upstream, a schema with a (string) format rejects any other non-string, non-array value
/// naming the format (`must be of type date-time: "int64"`), and does not type-check
/// strings and arrays unless it is numeric.
pub(super) fn value_type(s: &Value, x: &Value, path: &str, out: &mut Vec<Cause>) {
    let types = types(s);
    let format = formats::supported(s);
    if types.is_empty() && format.is_empty() {
        return;
    }
    let (kind, go_format) = observed(x);
    let whole = x.as_f64().is_some_and(is_json_integer);
    let accepted = types.contains(&kind)
        || (kind == "number" && whole && types.contains(&"integer"))
        || (kind == "integer" && types.contains(&"number"));
    let stringy = x.is_string() || x.is_array();
    if !stringy && !format.is_empty() && !accepted {
        out.push(render::type_invalid(path, format, go_format));
        return;
    }
    let numeric = types.contains(&"number") || types.contains(&"integer");
    if !numeric && !format.is_empty() && stringy {
        return;
    }
    if !accepted {
        out.push(render::type_invalid(path, &types.join(","), kind));
    }
}

/// go-openapi's `IsFloat64AJSONInteger`: a whole number within ±(2^53-1), to a relative
/// error of 1e-9.
pub(super) fn is_json_integer(f: f64) -> bool {
    const MAX: f64 = 9_007_199_254_740_991.0;
    if !f.is_finite() || !(-MAX..=MAX).contains(&f) {
        return false;
    }
    let rounded = f.round();
    f == rounded || (rounded != 0.0 && (f - rounded).abs() < 1e-9 * rounded.abs())
}

/// `maxLength`, `minLength` (in characters), `pattern`: the first that fails.
pub(super) fn string(s: &Value, text: &str, path: &str, out: &mut Vec<Cause>) {
    let len = text.chars().count() as i64;
    if let Some(max) = count(s, "maxLength")
        && len > max
    {
        out.push(render::too_long(field(path), max));
        return;
    }
    if let Some(min) = count(s, "minLength")
        && len < min
    {
        let why = format!("{path} in body should be at least {min} chars long");
        out.push(render::invalid(field(path), quote(text), why));
        return;
    }
    let Some(pattern) = s.get("pattern").and_then(Value::as_str) else {
        return;
    };
    let why = match matches(pattern, text) {
        Ok(true) => return,
        Ok(false) => format!("{path} in body should match '{pattern}'"),
        Err(e) => format!("{path} in body should match '{pattern}, but pattern is invalid: {e}'"),
    };
    out.push(render::invalid(field(path), quote(text), why));
}

thread_local! {
    /// Compiled patterns (a CRD's few patterns are matched again and again).
    static PATTERNS: RefCell<HashMap<String, Result<Regex, String>>> = RefCell::default();
}

/// Whether `pattern` (a Go RE2 pattern, unanchored) matches `text`; `Err` when the pattern
/// does not compile. The `regex` crate's syntax is RE2's; its `\d`, `\w` and `\s` are
/// Unicode-aware where Go's are ASCII.
fn matches(pattern: &str, text: &str) -> Result<bool, String> {
    PATTERNS.with(|cache| {
        let mut cache = cache.borrow_mut();
        let compiled = cache.entry(pattern.to_string()).or_insert_with(|| {
            Regex::new(pattern).map_err(|e| {
                let last = e.to_string().lines().last().unwrap_or_default().to_string();
                format!(
                    "error parsing regexp: {}",
                    last.trim_start_matches("error: ")
                )
            })
        });
        compiled
            .as_ref()
            .map(|re| re.is_match(text))
            .map_err(Clone::clone)
    })
}

/// A string's `format` (`must be of type date-time: "x"`, the value shown being the string).
pub(super) fn format(s: &Value, text: &str, path: &str, out: &mut Vec<Cause>) {
    let format = formats::supported(s);
    if !format.is_empty() && !formats::valid(format, text) {
        out.push(render::type_invalid(path, format, text));
    }
}

/// A number as Go decodes it.
#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

/// `multipleOf`, `minimum`, `maximum` (with the OpenAPI v3.0 boolean `exclusive*`), and
/// the range of an integer's `int32`/`int64` format. For an integer value upstream truncates
/// the bounds and factor to integers first (so `multipleOf: 0.5` is "not positive").
pub(super) fn number(s: &Value, n: &Number, path: &str, out: &mut Vec<Cause>) {
    let num = match n.as_i64() {
        Some(i) => Num::Int(i),
        None => Num::Float(n.as_f64().unwrap_or(f64::NAN)),
    };
    let shown = render::number(n);
    format_range(s, num, path, out);
    let bound = |key: &str| s.get(key).and_then(Value::as_f64);
    if let Some(factor) = bound("multipleOf") {
        let why = match num {
            Num::Int(d) => match factor as i64 {
                f if f <= 0 => Some((f.to_string(), positive(path, &f.to_string()))),
                f => (d % f != 0).then(|| (shown.clone(), multiple(path, &f.to_string()))),
            },
            Num::Float(_) if factor <= 0.0 => {
                Some((go_float(factor), positive(path, &go_float(factor))))
            }
            Num::Float(d) => {
                let mult = if factor < 1.0 {
                    1.0 / factor * d
                } else {
                    d / factor
                };
                (!is_json_integer(mult)).then(|| (shown.clone(), multiple(path, &go_float(factor))))
            }
        };
        if let Some((value, why)) = why {
            out.push(render::invalid(field(path), value, why));
        }
    }
    for (key, exclusive, below) in [
        ("minimum", "exclusiveMinimum", true),
        ("maximum", "exclusiveMaximum", false),
    ] {
        let Some(limit) = bound(key) else { continue };
        let exclusive = flag(s, exclusive);
        let (beyond, limit) = match num {
            Num::Int(d) => {
                let limit = limit as i64;
                (outside(d, limit, below, exclusive), limit.to_string())
            }
            Num::Float(d) => (outside(d, limit, below, exclusive), go_float(limit)),
        };
        if beyond {
            let than = match (below, exclusive) {
                (true, false) => "greater than or equal to",
                (true, true) => "greater than",
                (false, false) => "less than or equal to",
                (false, true) => "less than",
            };
            let why = format!("{path} in body should be {than} {limit}");
            out.push(render::invalid(field(path), shown.clone(), why));
        }
    }
}

fn positive(path: &str, factor: &str) -> String {
    format!("factor MultipleOf declared for {path} must be positive: {factor}")
}

fn multiple(path: &str, factor: &str) -> String {
    format!("{path} in body should be a multiple of {factor}")
}

/// `d` is below (or above) `limit`, or at it when exclusive.
fn outside<T: PartialOrd>(d: T, limit: T, below: bool, exclusive: bool) -> bool {
    match (below, exclusive) {
        (true, false) => d < limit,
        (true, true) => d <= limit,
        (false, false) => d > limit,
        (false, true) => d >= limit,
    }
}

/// An `integer` with format `int32`/`int64` must fit. kube-apiserver 1.32 drops these
/// formats from CRD schemas and checks nothing; later versions keep them and report an
/// overflow, as here, with kube-openapi's words and not as a field error (at `<nil>`).
fn format_range(s: &Value, num: Num, path: &str, out: &mut Vec<Cause>) {
    if s.get("type").and_then(Value::as_str) != Some("integer") {
        return;
    }
    let format = s.get("format").and_then(Value::as_str).unwrap_or_default();
    let fits = match (format, num) {
        ("int32", Num::Int(i)) => i32::try_from(i).is_ok(),
        ("int32", Num::Float(f)) => {
            f.fract() == 0.0 && (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&f)
        }
        // 2^63: every integral float64 below it (and at least -2^63) is an int64.
        ("int64", Num::Float(f)) => {
            f.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
        }
        _ => true,
    };
    if !fits {
        let why = format!("Checked value must be of type integer with format {format} in {path}");
        out.push(render::invalid(field(""), quote(""), why));
    }
}

/// `enum`: the value must equal one of the members (numbers compare by value). A null never
/// does, even a nullable one's, as upstream.
pub(super) fn enumeration(s: &Value, x: &Value, path: &str, out: &mut Vec<Cause>) {
    let Some(Value::Array(members)) = s.get("enum") else {
        return;
    };
    if members.is_empty() {
        return;
    }
    let same = |m: &Value| match (m, x) {
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    };
    if !members.iter().any(same) {
        out.push(render::not_supported(field(path), x, members));
    }
}
