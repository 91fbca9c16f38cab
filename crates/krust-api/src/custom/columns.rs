//! The Table columns of custom resources: the `additionalPrinterColumns` of a
//! CustomResourceDefinition version, printed as apiextensions-apiserver's table convertor
//! (`k8s.io/apiextensions-apiserver/pkg/registry/customresource/tableconvertor`) prints
//! them, each column's `jsonPath` evaluated as client-go's JSONPath
//! (`k8s.io/client-go/util/jsonpath`, see [`super::jsonpath`]).

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::printers::age;
use crate::printers::docs::{CREATION_TIMESTAMP, NAME};

pub use super::jsonpath::{is_valid_path, jsonpath};

#[cfg(test)]
mod tests;

/// The path of the `Name` column.
const NAME_PATH: &str = ".metadata.name";

/// One printer column of a custom resource version.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The column's name, e.g. `"Replicas"`; kubectl prints it upper-cased.
    pub name: String,
    /// The column's `type`: `"string"`, `"integer"`, `"number"`, `"boolean"` or
    /// `"date"`.
    pub kind: String,
    /// The column's `format`: `"name"` for the object name column, often `""`.
    pub format: String,
    /// The column's `description`.
    pub description: String,
    /// 0 for the default columns, more for those kubectl shows only with `-o wide`.
    pub priority: i64,
    /// The JSONPath of the column's value in the object, e.g. `.spec.replicas`.
    pub json_path: String,
}

impl Column {
    /// The column as a `TableColumnDefinition` JSON object.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.kind,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }

    /// Whether this is the `Name` column [`columns`] starts with.
    fn is_name(&self) -> bool {
        self.format == "name" && self.json_path == NAME_PATH
    }
}

/// The columns of one entry of a CRD's `spec.versions`, in the Table's order: `Name`,
/// then the version's `additionalPrinterColumns`, or when it declares none
/// Kubernetes' default `Age` column (`.metadata.creationTimestamp`, a date).
///
/// A declared column without a description gets
/// `"Custom resource definition column (in JSONPath format): <jsonPath>"`. As
/// upstream, the columns end before the first whose `jsonPath` does not parse (the
/// convertor stops there and serves the columns it has).
pub fn columns(version: &Value) -> Vec<Column> {
    let mut out = vec![Column {
        name: "Name".into(),
        kind: "string".into(),
        format: "name".into(),
        description: NAME.into(),
        priority: 0,
        json_path: NAME_PATH.into(),
    }];
    let declared = version
        .get("additionalPrinterColumns")
        .and_then(Value::as_array)
        .filter(|declared| !declared.is_empty());
    let Some(declared) = declared else {
        out.push(Column {
            name: "Age".into(),
            kind: "date".into(),
            format: String::new(),
            description: CREATION_TIMESTAMP.into(),
            priority: 0,
            json_path: ".metadata.creationTimestamp".into(),
        });
        return out;
    };
    let text = |col: &Value, key: &str| {
        col.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    for col in declared {
        let json_path = text(col, "jsonPath");
        if !super::jsonpath::parses(&json_path) {
            break;
        }
        let description = match text(col, "description") {
            d if d.is_empty() => {
                format!("Custom resource definition column (in JSONPath format): {json_path}")
            }
            d => d,
        };
        out.push(Column {
            name: text(col, "name"),
            kind: text(col, "type"),
            format: text(col, "format"),
            description,
            priority: col
                .get("priority")
                .and_then(Value::as_i64)
                .unwrap_or_default(),
            json_path,
        });
    }
    out
}

/// The cells of `obj`'s row, one per column, as the table convertor fills them from
/// the first value each column's path finds:
///
/// - `Name`: `metadata.name`;
/// - `string`: a string as is, another scalar as Go prints it, an array or object as
///   compact JSON, a null as `"<no value>"`;
/// - `integer`, `number`, `boolean`: the value if it is a number (an integer column
///   truncates a float), a number, a boolean, else null;
/// - `date`: the time since an RFC 3339 string as `kubectl get` prints ages,
///   `"<unknown>"` for an empty or zero time, `"<invalid>"` when it does not parse;
///
/// and a null cell (kubectl prints `<none>`) when the path finds nothing, for a value
/// of the wrong type, or for a column of another type.
pub fn cells(columns: &[Column], obj: &Value, now: Timestamp) -> Vec<Value> {
    columns.iter().map(|col| cell(col, obj, now)).collect()
}

/// The cell of one column.
fn cell(col: &Column, obj: &Value, now: Timestamp) -> Value {
    if col.is_name() {
        let name = obj.pointer("/metadata/name").and_then(Value::as_str);
        return Value::from(name.unwrap_or_default());
    }
    let Some(value) = super::jsonpath::first(&col.json_path, obj) else {
        return Value::Null;
    };
    match (col.kind.as_str(), value) {
        ("string", value) => Value::String(text(&value)),
        ("integer", Value::Number(n)) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => Value::from(n.as_f64().unwrap_or_default() as i64),
        },
        ("number", value @ Value::Number(_)) | ("boolean", value @ Value::Bool(_)) => value,
        ("date", Value::String(time)) => Value::from(since(&time, now)),
        _ => Value::Null,
    }
}

/// A value as client-go's JSONPath prints it: Go's `fmt.Sprint` of a scalar, the JSON
/// of an array or object (`encoding/json`'s HTML-safe escapes included).
fn text(value: &Value) -> String {
    match value {
        Value::Null => "<no value>".into(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => go_float(n.as_f64().unwrap_or_default()),
        },
        Value::Array(_) | Value::Object(_) => value
            .to_string()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029"),
    }
}

/// Go's `%v` of a float64: the shortest digits, with an exponent (`1e+06`, `1e-05`)
/// when it is below -4 or at least 6.
fn go_float(f: f64) -> String {
    let scientific = format!("{f:e}");
    let Some((mantissa, exp)) = scientific.split_once('e') else {
        return f.to_string();
    };
    let exp: i32 = exp.parse().unwrap_or_default();
    if (-4..6).contains(&exp) {
        f.to_string()
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    }
}

/// The age a date column prints for a timestamp string (metav1.Time's query-parameter
/// parsing, then `ConvertToHumanReadableDateType`).
fn since(time: &str, now: Timestamp) -> String {
    if time.is_empty() || time == "null" {
        "<unknown>".into()
    } else if time.parse::<Timestamp>().is_err() {
        "<invalid>".into()
    } else {
        age(Some(time), now)
    }
}
