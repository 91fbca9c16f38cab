//! Turns the JSON of a Kubernetes object into its protobuf encoding, driven by the
//! descriptor table: the inverse of `convert.rs`, as the gogo-generated `Marshal` methods
//! of Kubernetes' `generated.pb.go` files write it. JSON members the table does not list
//! are left out; `null` is left out too, except for a `Time` (Go's zero time, written as
//! an empty message, which decodes back to `null`).

use base64::Engine as _;
use serde_json::{Map, Value};

use super::ProtobufError;
use super::table::{Base, Message, Shape, Table};
use super::wire::{put_len_field, put_varint_field};

/// Encodes the members of `obj` that `msg` lists; `at` names the object in errors.
pub(super) fn message(
    table: &Table,
    msg: &Message,
    obj: &Map<String, Value>,
    at: &str,
) -> Result<Vec<u8>, ProtobufError> {
    let mut out = Vec::new();
    for field in &msg.fields {
        if field.inline() {
            let Base::Message(i) = field.base else {
                unreachable!("the table inlines messages only")
            };
            let inner = message(table, table.message(i), obj, at)?;
            put_len_field(&mut out, field.number, &inner);
            continue;
        }
        let Some(value) = obj.get(field.json) else {
            continue;
        };
        let at = format!("{at}.{}", field.json);
        match (field.shape, value) {
            (_, Value::Null) if matches!(field.base, Base::Time | Base::MicroTime) => {
                if matches!(field.shape, Shape::Single { .. }) {
                    put_len_field(&mut out, field.number, &[]);
                }
            }
            (_, Value::Null) => {}
            (Shape::Single { .. }, v) => single(table, field.base, field.number, v, &at, &mut out)?,
            (Shape::Repeated, Value::Array(items)) => {
                for (n, v) in items.iter().enumerate() {
                    let at = format!("{at}[{n}]");
                    single(table, field.base, field.number, v, &at, &mut out)?;
                }
            }
            (Shape::Map, Value::Object(entries)) => {
                for (key, v) in entries {
                    let mut entry = Vec::new();
                    put_len_field(&mut entry, 1, key.as_bytes());
                    let at = format!("{at}[{key:?}]");
                    single(table, field.base, 2, v, &at, &mut entry)?;
                    put_len_field(&mut out, field.number, &entry);
                }
            }
            (Shape::Repeated, _) => return Err(mismatch("an array", &at)),
            (Shape::Map, _) => return Err(mismatch("an object", &at)),
        }
    }
    Ok(out)
}

/// Appends one value of `base` as field `number`.
fn single(
    table: &Table,
    base: Base,
    number: u32,
    v: &Value,
    at: &str,
    out: &mut Vec<u8>,
) -> Result<(), ProtobufError> {
    match base {
        Base::String => put_len_field(out, number, string(v, at)?.as_bytes()),
        Base::Bytes => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(string(v, at)?)
                .map_err(|e| encode_error(at, format!("not base64: {e}")))?;
            put_len_field(out, number, &bytes);
        }
        // Negative int32s travel sign-extended to 64 bits, as Go writes them.
        Base::Int32 | Base::Int64 => {
            let n = v.as_i64().ok_or_else(|| mismatch("an integer", at))?;
            put_varint_field(out, number, n as u64);
        }
        Base::Bool => {
            let b = v.as_bool().ok_or_else(|| mismatch("a boolean", at))?;
            put_varint_field(out, number, u64::from(b));
        }
        Base::Time | Base::MicroTime => put_len_field(out, number, &time(v, at)?),
        Base::Json => {
            let mut raw = Vec::new();
            put_len_field(&mut raw, 1, &serde_json::to_vec(v).unwrap_or_default());
            put_len_field(out, number, &raw);
        }
        Base::IntOrString => {
            let mut inner = Vec::new();
            match v {
                Value::String(s) => {
                    put_varint_field(&mut inner, 1, 1);
                    put_varint_field(&mut inner, 2, 0);
                    put_len_field(&mut inner, 3, s.as_bytes());
                }
                other => {
                    let n = other
                        .as_i64()
                        .ok_or_else(|| mismatch("an integer or a string", at))?;
                    put_varint_field(&mut inner, 1, 0);
                    put_varint_field(&mut inner, 2, n as u64);
                }
            }
            put_len_field(out, number, &inner);
        }
        Base::Quantity => {
            let text = match v {
                Value::Number(n) => n.to_string(),
                other => string(other, at)?.to_owned(),
            };
            let mut inner = Vec::new();
            put_len_field(&mut inner, 1, text.as_bytes());
            put_len_field(out, number, &inner);
        }
        Base::Strings => {
            let items = v
                .as_array()
                .ok_or_else(|| mismatch("a list of strings", at))?;
            let mut inner = Vec::new();
            for item in items {
                put_len_field(&mut inner, 1, string(item, at)?.as_bytes());
            }
            put_len_field(out, number, &inner);
        }
        Base::Message(i) => {
            let obj = v.as_object().ok_or_else(|| mismatch("an object", at))?;
            let inner = message(table, table.message(i), obj, at)?;
            put_len_field(out, number, &inner);
        }
    }
    Ok(())
}

/// An RFC 3339 time as `{1: seconds, 2: nanos}`.
fn time(v: &Value, at: &str) -> Result<Vec<u8>, ProtobufError> {
    let text = string(v, at)?;
    let ts: jiff::Timestamp = text
        .parse()
        .map_err(|e| encode_error(at, format!("{text:?} is not an RFC 3339 time: {e}")))?;
    let mut out = Vec::new();
    put_varint_field(&mut out, 1, ts.as_second() as u64);
    let nanos = ts.subsec_nanosecond();
    if nanos != 0 {
        put_varint_field(&mut out, 2, i64::from(nanos) as u64);
    }
    Ok(out)
}

fn string<'v>(v: &'v Value, at: &str) -> Result<&'v str, ProtobufError> {
    v.as_str().ok_or_else(|| mismatch("a string", at))
}

fn mismatch(what: &str, at: &str) -> ProtobufError {
    encode_error(at, format!("expected {what}"))
}

fn encode_error(at: &str, reason: String) -> ProtobufError {
    ProtobufError::Unencodable {
        at: at.to_owned(),
        reason,
    }
}
