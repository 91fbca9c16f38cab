//! Turns the protobuf encoding of one message into the JSON object Go's `encoding/json`
//! would produce for the same Kubernetes object, driven by the descriptor table.

use base64::Engine as _;
use serde_json::{Map, Value};

use super::ProtobufError;
use super::table::{Base, Field, Message, Shape, Table};
use super::wire::{self, Wire, WireError};

/// Decodes the fields of `msg` from `data`; `at` names the message in error messages.
pub(super) fn message(
    table: &Table,
    msg: &Message,
    data: &[u8],
    at: &str,
) -> Result<Map<String, Value>, ProtobufError> {
    let mut out = Map::new();
    for item in wire::fields(data) {
        let (number, value) = item.map_err(|e| wire_error(e, at))?;
        let Some(field) = msg.field(number) else {
            continue;
        };
        let at = if field.inline() {
            at.to_owned()
        } else {
            format!("{at}.{}", field.json)
        };
        match field.shape {
            Shape::Single { keep_zero } => {
                let v = single(table, field.base, value, &at)?;
                match v {
                    v if !keep_zero && field.base.is_scalar() && is_zero(&v) => {
                        out.remove(field.json);
                    }
                    Value::Object(inner) if field.inline() => out.extend(inner),
                    v => {
                        out.insert(field.json.to_owned(), v);
                    }
                }
            }
            Shape::Repeated => repeated(table, field, value, &at, array(&mut out, field.json))?,
            Shape::Map => {
                let (key, v) = map_entry(table, field.base, value, &at)?;
                if let Value::Object(map) = out
                    .entry(field.json)
                    .or_insert_with(|| Value::Object(Map::new()))
                {
                    map.insert(key, v);
                }
            }
        }
    }
    Ok(out)
}

/// The array under `key`, created when first needed.
fn array<'m>(out: &'m mut Map<String, Value>, key: &str) -> &'m mut Vec<Value> {
    let slot = out.entry(key).or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    slot.as_array_mut()
        .expect("the slot was just made an array")
}

/// Appends one occurrence of a repeated field: a single value, or a packed run of varints.
fn repeated(
    table: &Table,
    field: &Field,
    value: Wire<'_>,
    at: &str,
    items: &mut Vec<Value>,
) -> Result<(), ProtobufError> {
    match value {
        Wire::Len(mut packed) if field.base.is_varint() => {
            while !packed.is_empty() {
                let v = wire::varint(&mut packed).map_err(|e| wire_error(e, at))?;
                items.push(single(table, field.base, Wire::Varint(v), at)?);
            }
        }
        _ => {
            let at = format!("{at}[{}]", items.len());
            items.push(single(table, field.base, value, &at)?);
        }
    }
    Ok(())
}

/// One `{1: key, 2: value}` map entry; a missing value is the zero value.
fn map_entry(
    table: &Table,
    base: Base,
    value: Wire<'_>,
    at: &str,
) -> Result<(String, Value), ProtobufError> {
    let entry = len(value, "a map entry", at)?;
    let mut key = String::new();
    let mut v = None;
    for item in wire::fields(entry) {
        match item.map_err(|e| wire_error(e, at))? {
            (1, w) => key = text(len(w, "a string", at)?),
            (2, w) => v = Some(w),
            _ => {}
        }
    }
    let at = format!("{at}[{key:?}]");
    let zero = if base.is_varint() {
        Wire::Varint(0)
    } else {
        Wire::Len(&[])
    };
    let v = single(table, base, v.unwrap_or(zero), &at)?;
    Ok((key, v))
}

/// One value of `base`.
fn single(table: &Table, base: Base, value: Wire<'_>, at: &str) -> Result<Value, ProtobufError> {
    Ok(match base {
        Base::String => Value::String(text(len(value, "a string", at)?)),
        Base::Bytes => Value::String(
            base64::engine::general_purpose::STANDARD.encode(len(value, "bytes", at)?),
        ),
        // A varint holds the int32 sign-extended to 64 bits; truncating restores it.
        Base::Int32 => Value::from(varint(value, "an int32", at)? as i32),
        Base::Int64 => Value::from(varint(value, "an int64", at)? as i64),
        Base::Bool => Value::Bool(varint(value, "a bool", at)? != 0),
        Base::Message(i) => {
            let msg = table.message(i);
            Value::Object(message(table, msg, len(value, msg.name, at)?, at)?)
        }
        Base::Time => time(len(value, "a Time", at)?, false, at)?,
        Base::MicroTime => time(len(value, "a MicroTime", at)?, true, at)?,
        Base::Json => json(len(value, "raw JSON", at)?, at)?,
        Base::IntOrString => int_or_string(len(value, "an IntOrString", at)?, at)?,
        Base::Quantity => quantity(len(value, "a Quantity", at)?, at)?,
        Base::Strings => strings(len(value, "a list of strings", at)?, at)?,
    })
}

/// Go's zero `time.Time` in Unix seconds (January 1 of year 1, UTC).
pub(super) const ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// `{1: seconds, 2: nanos}` as Go writes it in JSON: `metav1.Time` in whole seconds (the
/// nanos are dropped, as Kubernetes does), `metav1.MicroTime` with six fractional digits,
/// both RFC 3339 UTC; `null` for the zero time (an empty message, or year 1).
fn time(data: &[u8], micro: bool, at: &str) -> Result<Value, ProtobufError> {
    let (mut seconds, mut nanos) = (0i64, 0i32);
    for item in wire::fields(data) {
        match item.map_err(|e| wire_error(e, at))? {
            (1, w) => seconds = varint(w, "Time seconds", at)? as i64,
            (2, w) => nanos = varint(w, "Time nanos", at)? as i32,
            _ => {}
        }
    }
    if data.is_empty() || (seconds == ZERO_TIME_SECONDS && nanos == 0) {
        return Ok(Value::Null);
    }
    let ts = jiff::Timestamp::from_second(seconds)
        .map_err(|e| malformed(at, format!("time {seconds}s out of range: {e}")))?;
    let whole = ts.strftime("%Y-%m-%dT%H:%M:%S");
    Ok(Value::String(if micro {
        let micros = nanos.clamp(0, 999_999_999) / 1000;
        format!("{whole}.{micros:06}Z")
    } else {
        format!("{whole}Z")
    }))
}

/// `{1: raw}` holding JSON (`FieldsV1`, `RawExtension`); no bytes is `null`.
fn json(data: &[u8], at: &str) -> Result<Value, ProtobufError> {
    let mut raw: &[u8] = &[];
    for item in wire::fields(data) {
        if let (1, w) = item.map_err(|e| wire_error(e, at))? {
            raw = len(w, "raw bytes", at)?;
        }
    }
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(raw).map_err(|e| malformed(at, format!("raw bytes are not JSON: {e}")))
}

/// `{1: type, 2: intVal, 3: strVal}`: a JSON string when type is 1, else a number.
fn int_or_string(data: &[u8], at: &str) -> Result<Value, ProtobufError> {
    let (mut ty, mut int, mut string) = (0, 0i32, String::new());
    for item in wire::fields(data) {
        match item.map_err(|e| wire_error(e, at))? {
            (1, w) => ty = varint(w, "IntOrString type", at)?,
            (2, w) => int = varint(w, "IntOrString intVal", at)? as i32,
            (3, w) => string = text(len(w, "IntOrString strVal", at)?),
            _ => {}
        }
    }
    Ok(if ty == 1 {
        Value::String(string)
    } else {
        Value::from(int)
    })
}

/// `{1: string}`; an empty Quantity is `"0"`, as in Go.
fn quantity(data: &[u8], at: &str) -> Result<Value, ProtobufError> {
    let mut value = String::new();
    for item in wire::fields(data) {
        if let (1, w) = item.map_err(|e| wire_error(e, at))? {
            value = text(len(w, "Quantity string", at)?);
        }
    }
    Ok(Value::String(if value.is_empty() {
        "0".into()
    } else {
        value
    }))
}

/// `{1: repeated string}` as a JSON list.
fn strings(data: &[u8], at: &str) -> Result<Value, ProtobufError> {
    let mut items = Vec::new();
    for item in wire::fields(data) {
        if let (1, w) = item.map_err(|e| wire_error(e, at))? {
            items.push(Value::String(text(len(w, "a string", at)?)));
        }
    }
    Ok(Value::Array(items))
}

/// Whether a scalar is its type's zero value (what Go's `omitempty` drops).
fn is_zero(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_i64() == Some(0),
        Value::Bool(b) => !b,
        _ => false,
    }
}

/// Go's `encoding/json` writes invalid UTF-8 as U+FFFD; so does this.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn len<'a>(value: Wire<'a>, what: &str, at: &str) -> Result<&'a [u8], ProtobufError> {
    match value {
        Wire::Len(data) => Ok(data),
        other => Err(mismatch(what, other, at)),
    }
}

fn varint(value: Wire<'_>, what: &str, at: &str) -> Result<u64, ProtobufError> {
    match value {
        Wire::Varint(v) => Ok(v),
        other => Err(mismatch(what, other, at)),
    }
}

fn mismatch(what: &str, found: Wire<'_>, at: &str) -> ProtobufError {
    malformed(
        at,
        format!("expected {what}, found a {} value", found.name()),
    )
}

fn malformed(at: &str, reason: String) -> ProtobufError {
    ProtobufError::Malformed {
        at: at.to_owned(),
        reason,
    }
}

pub(super) fn wire_error(e: WireError, at: &str) -> ProtobufError {
    match e {
        WireError::Truncated => ProtobufError::Truncated { at: at.to_owned() },
        other => malformed(at, other.to_string()),
    }
}
