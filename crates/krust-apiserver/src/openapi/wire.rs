//! A protobuf message builder, just what [`super::v2_proto`] needs: strings, bools, int64s,
//! doubles and nested messages from JSON, with proto3's rule that scalar fields at their
//! default are left out. The wire encoding is `krust_api::protobuf`'s.

use krust_api::protobuf::{put_fixed64_field, put_len_field, put_varint_field};
use serde_json::Value;

/// A protobuf message being written.
#[derive(Default)]
pub struct Msg(Vec<u8>);

impl Msg {
    /// The encoded message.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// A string field, left out when empty.
    pub fn string(&mut self, field: u32, s: &str) {
        if !s.is_empty() {
            self.string_always(field, s);
        }
    }

    /// A string field even when empty (an element of a repeated field).
    pub fn string_always(&mut self, field: u32, s: &str) {
        put_len_field(&mut self.0, field, s.as_bytes());
    }

    /// A repeated string field from a JSON array of strings (anything else is left out).
    pub fn strings(&mut self, field: u32, v: Option<&Value>) {
        for s in v.and_then(Value::as_array).into_iter().flatten() {
            if let Some(s) = s.as_str() {
                self.string_always(field, s);
            }
        }
    }

    /// A bool field, left out when false.
    pub fn bool(&mut self, field: u32, b: bool) {
        if b {
            self.bool_always(field, b);
        }
    }

    /// A bool field even when false (a member of a oneof).
    pub fn bool_always(&mut self, field: u32, b: bool) {
        put_varint_field(&mut self.0, field, u64::from(b));
    }

    /// An `int64` field, left out when 0.
    pub fn int64(&mut self, field: u32, n: i64) {
        if n != 0 {
            put_varint_field(&mut self.0, field, n as u64);
        }
    }

    /// A `double` field, left out when 0.
    pub fn double(&mut self, field: u32, d: f64) {
        if d != 0.0 {
            put_fixed64_field(&mut self.0, field, d.to_le_bytes());
        }
    }

    /// A message field (written even when empty: a present message is not a default).
    pub fn message(&mut self, field: u32, build: impl FnOnce(&mut Msg)) {
        let mut inner = Msg::default();
        build(&mut inner);
        put_len_field(&mut self.0, field, &inner.0);
    }

    /// A message field built from `v`, if the JSON has it.
    pub fn message_of(
        &mut self,
        field: u32,
        v: Option<&Value>,
        build: impl FnOnce(&mut Msg, &Value),
    ) {
        if let Some(v) = v {
            self.message(field, |m| build(m, v));
        }
    }

    /// A repeated message field, one message per element of the JSON array `v`.
    pub fn each(&mut self, field: u32, v: Option<&Value>, build: impl Fn(&mut Msg, &Value)) {
        for item in v.and_then(Value::as_array).into_iter().flatten() {
            self.message(field, |m| build(m, item));
        }
    }
}
