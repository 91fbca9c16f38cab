//! `application/vnd.kubernetes.protobuf` bodies to and from JSON, as apimachinery's
//! `runtime/serializer/protobuf` serializer reads and writes them.
//!
//! Go clients (client-go, kubectl's typed clients, controllers, the e2e suite) send
//! protobuf, not JSON. Such a body is the magic `k8s\0` followed by a `runtime.Unknown`
//! message: `{1: typeMeta {1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding,
//! 4: contentType}`, where `raw` is the object's encoding per Kubernetes'
//! `generated.proto` files. [`decode`] turns it into the JSON object the client would
//! have sent as `application/json`, following Go's `encoding/json` rules (zero scalars of
//! `omitempty` fields dropped, pointer zeros kept, empty structs kept as `{}`, the zero
//! time as `null`); [`encode`] is its inverse, for answers to clients that accept only
//! protobuf. The message layouts come from the data table `protobuf/messages.txt`,
//! generated from Kubernetes' Go struct tags by `scripts/protobuf-messages.py`; fields it
//! does not list are skipped.

mod convert;
mod encode;
mod table;
mod watch;
mod wire;

pub use watch::{WATCH_MEDIA_TYPE, decode_watch_event, watch_frame};
pub use wire::{put_fixed64_field, put_len_field, put_varint, put_varint_field};

#[cfg(test)]
mod round_trip_tests;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

/// The Kubernetes protobuf media type.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes every Kubernetes protobuf body starts with.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// What the Kubernetes API server answers (415) for a body in an unrecognized media type.
pub const UNKNOWN_FORMAT: &str = "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf";

/// Why a protobuf body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    /// The body does not start with [`MAGIC`].
    #[error("the body is not Kubernetes protobuf: it does not start with the bytes \"k8s\\x00\"")]
    BadMagic,
    /// The data ends in the middle of a field of `at` (a path such as `Deployment.spec`).
    #[error("the protobuf body is truncated in {at}")]
    Truncated {
        /// Where: the kind and the JSON path of the message being read.
        at: String,
    },
    /// The data is not a valid encoding of the message at `at`.
    #[error("the protobuf body is malformed in {at}: {reason}")]
    Malformed {
        /// Where: the kind and the JSON path of the field being read.
        at: String,
        /// What is wrong.
        reason: String,
    },
    /// The envelope does not name the object's apiVersion and kind.
    #[error("the protobuf body does not name the object's apiVersion and kind")]
    MissingTypeMeta,
    /// The envelope's raw bytes are compressed or in another content type.
    #[error(
        "the body of the request was in an unknown format - the protobuf envelope holds {0}, which this server cannot decode; accepted media types include: application/json, application/yaml"
    )]
    UnsupportedEncoding(String),
    /// A JSON value does not fit the message field it belongs to (when encoding).
    #[error("cannot encode {at} as protobuf: {reason}")]
    Unencodable {
        /// Where: the kind and the JSON path of the field being written.
        at: String,
        /// What is wrong.
        reason: String,
    },
    /// The kind is not one this server can decode from (or encode to) protobuf.
    #[error(
        "the body of the request was in an unknown format - this server cannot decode {kind} ({api_version}) from {MEDIA_TYPE}; accepted media types for it include: application/json, application/yaml"
    )]
    UnsupportedKind {
        /// The apiVersion named by the body.
        api_version: String,
        /// The kind named by the body.
        kind: String,
    },
}

impl ProtobufError {
    /// The HTTP status to answer with: 415 when the kind or encoding is not supported,
    /// 400 when the body is broken.
    pub fn code(&self) -> u16 {
        match self {
            ProtobufError::UnsupportedKind { .. } | ProtobufError::UnsupportedEncoding(_) => 415,
            _ => 400,
        }
    }

    /// The `reason` of the Kubernetes `Status` to answer with.
    pub fn reason(&self) -> &'static str {
        match self.code() {
            415 => "UnsupportedMediaType",
            _ => "BadRequest",
        }
    }
}

/// Whether a `Content-Type` header value names the Kubernetes protobuf media type
/// (parameters are ignored).
pub fn is_protobuf(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .eq_ignore_ascii_case(MEDIA_TYPE)
}

/// Whether [`decode`] and [`encode`] know the message layout of this kind.
pub fn supports(api_version: &str, kind: &str) -> bool {
    table::table().kind(api_version, kind).is_some()
}

/// The `(apiVersion, kind)` pairs [`decode`] supports, sorted.
pub fn supported_kinds() -> Vec<(&'static str, &'static str)> {
    table::table().kinds()
}

/// Decodes a Kubernetes protobuf body (magic, `runtime.Unknown` envelope, object) into
/// the object's JSON, with `apiVersion` and `kind` set from the envelope.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let envelope = body.strip_prefix(MAGIC).ok_or(ProtobufError::BadMagic)?;
    let unknown = Unknown::parse(envelope)?;
    if unknown.kind.is_empty() || unknown.api_version.is_empty() {
        return Err(ProtobufError::MissingTypeMeta);
    }
    if !unknown.content_encoding.is_empty() {
        return Err(ProtobufError::UnsupportedEncoding(format!(
            "content encoding {:?}",
            unknown.content_encoding
        )));
    }
    if !unknown.content_type.is_empty() && !is_protobuf(&unknown.content_type) {
        return Err(ProtobufError::UnsupportedEncoding(format!(
            "content type {:?}",
            unknown.content_type
        )));
    }
    let table = table::table();
    let message = table
        .kind(&unknown.api_version, &unknown.kind)
        .ok_or_else(|| ProtobufError::UnsupportedKind {
            api_version: unknown.api_version.clone(),
            kind: unknown.kind.clone(),
        })?;
    let mut object = Map::new();
    object.insert("kind".into(), Value::String(unknown.kind.clone()));
    object.insert(
        "apiVersion".into(),
        Value::String(unknown.api_version.clone()),
    );
    object.extend(convert::message(
        table,
        message,
        unknown.raw,
        &unknown.kind,
    )?);
    Ok(Value::Object(object))
}

/// Encodes an object's JSON (which names its `apiVersion` and `kind`) as a Kubernetes
/// protobuf body: magic, `runtime.Unknown` envelope, object. Lists encode their items as
/// the item kind's message; members the table does not list are left out.
pub fn encode(object: &Value) -> Result<Vec<u8>, ProtobufError> {
    let member = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or_default();
    let (api_version, kind) = (member("apiVersion"), member("kind"));
    if api_version.is_empty() || kind.is_empty() {
        return Err(ProtobufError::MissingTypeMeta);
    }
    let table = table::table();
    let message = table
        .kind(api_version, kind)
        .ok_or_else(|| ProtobufError::UnsupportedKind {
            api_version: api_version.into(),
            kind: kind.into(),
        })?;
    let empty = Map::new();
    let fields = object.as_object().unwrap_or(&empty);
    let raw = encode::message(table, message, fields, kind)?;
    let mut type_meta = Vec::new();
    wire::put_len_field(&mut type_meta, 1, api_version.as_bytes());
    wire::put_len_field(&mut type_meta, 2, kind.as_bytes());
    let mut body = MAGIC.to_vec();
    wire::put_len_field(&mut body, 1, &type_meta);
    wire::put_len_field(&mut body, 2, &raw);
    Ok(body)
}

/// The `runtime.Unknown` envelope.
#[derive(Debug, Default)]
struct Unknown<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
    content_type: String,
}

impl<'a> Unknown<'a> {
    fn parse(data: &'a [u8]) -> Result<Self, ProtobufError> {
        const AT: &str = "the runtime.Unknown envelope";
        let mut out = Unknown::default();
        for item in wire::fields(data) {
            let (number, value) = item.map_err(|e| convert::wire_error(e, AT))?;
            let wire::Wire::Len(bytes) = value else {
                if (1..=4).contains(&number) {
                    return Err(envelope_error(number, value.name()));
                }
                continue;
            };
            match number {
                1 => {
                    for item in wire::fields(bytes) {
                        match item.map_err(|e| convert::wire_error(e, AT))? {
                            (1, wire::Wire::Len(v)) => out.api_version = text(v, AT)?,
                            (2, wire::Wire::Len(v)) => out.kind = text(v, AT)?,
                            (n @ (1 | 2), other) => return Err(envelope_error(n, other.name())),
                            _ => {}
                        }
                    }
                }
                2 => out.raw = bytes,
                3 => out.content_encoding = text(bytes, AT)?,
                4 => out.content_type = text(bytes, AT)?,
                _ => {}
            }
        }
        Ok(out)
    }
}

fn envelope_error(number: u32, found: &str) -> ProtobufError {
    ProtobufError::Malformed {
        at: "the runtime.Unknown envelope".into(),
        reason: format!("field {number} should be length-delimited, found a {found} value"),
    }
}

fn text(bytes: &[u8], at: &str) -> Result<String, ProtobufError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| ProtobufError::Malformed {
        at: at.into(),
        reason: "a string is not valid UTF-8".into(),
    })
}
