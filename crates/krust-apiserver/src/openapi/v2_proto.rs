//! The protobuf form of `/openapi/v2`: a Swagger 2.0 JSON document encoded as gnostic's
//! `openapi.v2.Document` message (google/gnostic-models, `openapiv2/OpenAPIv2.proto`), which
//! kube-apiserver serves as `application/com.github.proto-openapi.spec.v2.v1.0+protobuf`
//! (kube-openapi's `handler.ToProtoBinary`) and kubectl reads for validation, `explain` and
//! patch metadata when OpenAPI v3 does not answer.
//!
//! Each function below writes one message of that schema from the JSON object of the same
//! name, with the .proto's field numbers. Named maps (`definitions`, `properties`, `paths`,
//! responses...) are repeated `Named*` messages in the JSON's order; `x-` keys become
//! `NamedAny` vendor extensions, whose `Any.yaml` holds the value written as JSON (a subset of
//! YAML, which is how kubectl parses it). Keys the schema has no field for are left out.

use super::wire::Msg;
use serde_json::{Map, Value};

/// The `openapi.v2.Document` protobuf of a Swagger 2.0 JSON document.
pub fn encode(document: &Value) -> Vec<u8> {
    let mut m = Msg::default();
    let v = object(document);
    m.string(1, text(v, "swagger"));
    m.message_of(2, v.get("info"), info);
    m.string(3, text(v, "host"));
    m.string(4, text(v, "basePath"));
    m.strings(5, v.get("schemes"));
    m.strings(6, v.get("consumes"));
    m.strings(7, v.get("produces"));
    m.message_of(8, v.get("paths"), paths);
    m.message_of(9, v.get("definitions"), |m, d| named(m, d, schema));
    m.message_of(10, v.get("parameters"), |m, d| named(m, d, parameter));
    m.message_of(11, v.get("responses"), |m, d| named(m, d, response));
    m.each(12, v.get("security"), security_requirement);
    m.message_of(13, v.get("securityDefinitions"), |m, d| {
        named(m, d, security_definitions_item)
    });
    m.each(14, v.get("tags"), tag);
    m.message_of(15, v.get("externalDocs"), external_docs);
    extensions(&mut m, 16, v);
    m.into_bytes()
}

fn object(v: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
    v.as_object().unwrap_or(&EMPTY)
}

fn text<'a>(v: &'a Map<String, Value>, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn flag(v: &Map<String, Value>, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn double(v: &Map<String, Value>, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

fn int(v: &Map<String, Value>, key: &str) -> i64 {
    let n = v.get(key);
    n.and_then(Value::as_i64)
        .or_else(|| n.and_then(Value::as_f64).map(|f| f as i64))
        .unwrap_or(0)
}

/// `Any`: the value as YAML (written as JSON, which YAML parsers read).
fn any(m: &mut Msg, v: &Value) {
    m.string(2, &serde_json::to_string(v).unwrap_or_default());
}

/// The `x-` keys of `v` as repeated `NamedAny` at `field`.
fn extensions(m: &mut Msg, field: u32, v: &Map<String, Value>) {
    for (name, value) in v.iter().filter(|(k, _)| k.starts_with("x-")) {
        m.message(field, |m| {
            m.string(1, name);
            m.message(2, |m| any(m, value));
        });
    }
}

/// The entries of a JSON object as repeated `Named*{name = 1, value = 2}` at field 1 (the
/// `additional_properties` of `Definitions`, `Properties`, `ParameterDefinitions`...).
fn named(m: &mut Msg, v: &Value, value: impl Fn(&mut Msg, &Value)) {
    named_at(m, 1, object(v).iter(), value);
}

fn named_at<'a>(
    m: &mut Msg,
    field: u32,
    entries: impl Iterator<Item = (&'a String, &'a Value)>,
    value: impl Fn(&mut Msg, &Value),
) {
    for (name, v) in entries {
        m.message(field, |m| {
            m.string(1, name);
            m.message(2, |m| value(m, v));
        });
    }
}

fn info(m: &mut Msg, v: &Value) {
    let v = object(v);
    m.string(1, text(v, "title"));
    m.string(2, text(v, "version"));
    m.string(3, text(v, "description"));
    m.string(4, text(v, "termsOfService"));
    m.message_of(5, v.get("contact"), |m, c| {
        let c = object(c);
        m.string(1, text(c, "name"));
        m.string(2, text(c, "url"));
        m.string(3, text(c, "email"));
        extensions(m, 4, c);
    });
    m.message_of(6, v.get("license"), |m, l| {
        let l = object(l);
        m.string(1, text(l, "name"));
        m.string(2, text(l, "url"));
        extensions(m, 3, l);
    });
    extensions(m, 7, v);
}

fn external_docs(m: &mut Msg, v: &Value) {
    let v = object(v);
    m.string(1, text(v, "description"));
    m.string(2, text(v, "url"));
    extensions(m, 3, v);
}

fn tag(m: &mut Msg, v: &Value) {
    let v = object(v);
    m.string(1, text(v, "name"));
    m.string(2, text(v, "description"));
    m.message_of(3, v.get("externalDocs"), external_docs);
    extensions(m, 4, v);
}

/// `SecurityRequirement`: scheme name → `StringArray` of scopes.
fn security_requirement(m: &mut Msg, v: &Value) {
    named(m, v, |m, scopes| m.strings(1, Some(scopes)));
}

/// `SecurityDefinitionsItem`, a oneof chosen by `type` (and `flow` for OAuth 2).
fn security_definitions_item(m: &mut Msg, v: &Value) {
    let o = object(v);
    let common = |m: &mut Msg| {
        m.string(1, text(o, "type"));
        m.string(2, text(o, "flow"));
        // `Oauth2Scopes`: repeated `NamedString{name, value}`.
        m.message_of(3, o.get("scopes"), |m, s| {
            for (name, d) in object(s) {
                m.message(1, |m| {
                    m.string(1, name);
                    m.string(2, d.as_str().unwrap_or(""));
                });
            }
        });
    };
    match (text(o, "type"), text(o, "flow")) {
        ("basic", _) => m.message(1, |m| {
            m.string(1, text(o, "type"));
            m.string(2, text(o, "description"));
            extensions(m, 3, o);
        }),
        ("apiKey", _) => m.message(2, |m| {
            m.string(1, text(o, "type"));
            m.string(2, text(o, "name"));
            m.string(3, text(o, "in"));
            m.string(4, text(o, "description"));
            extensions(m, 5, o);
        }),
        ("oauth2", "implicit") => m.message(3, |m| {
            common(m);
            m.string(4, text(o, "authorizationUrl"));
            m.string(5, text(o, "description"));
            extensions(m, 6, o);
        }),
        ("oauth2", flow @ ("password" | "application")) => {
            m.message(if flow == "password" { 4 } else { 5 }, |m| {
                common(m);
                m.string(4, text(o, "tokenUrl"));
                m.string(5, text(o, "description"));
                extensions(m, 6, o);
            })
        }
        ("oauth2", "accessCode") => m.message(6, |m| {
            common(m);
            m.string(4, text(o, "authorizationUrl"));
            m.string(5, text(o, "tokenUrl"));
            m.string(6, text(o, "description"));
            extensions(m, 7, o);
        }),
        _ => {}
    }
}

/// `Paths`: vendor extensions (1) and one `NamedPathItem` per path (2).
fn paths(m: &mut Msg, v: &Value) {
    let v = object(v);
    extensions(m, 1, v);
    named_at(
        m,
        2,
        v.iter().filter(|(k, _)| !k.starts_with("x-")),
        path_item,
    );
}

fn path_item(m: &mut Msg, v: &Value) {
    let v = object(v);
    m.string(1, text(v, "$ref"));
    for (field, method) in [
        (2, "get"),
        (3, "put"),
        (4, "post"),
        (5, "delete"),
        (6, "options"),
        (7, "head"),
        (8, "patch"),
    ] {
        m.message_of(field, v.get(method), operation);
    }
    m.each(9, v.get("parameters"), parameters_item);
    extensions(m, 10, v);
}

fn operation(m: &mut Msg, v: &Value) {
    let v = object(v);
    m.strings(1, v.get("tags"));
    m.string(2, text(v, "summary"));
    m.string(3, text(v, "description"));
    m.message_of(4, v.get("externalDocs"), external_docs);
    m.string(5, text(v, "operationId"));
    m.strings(6, v.get("produces"));
    m.strings(7, v.get("consumes"));
    m.each(8, v.get("parameters"), parameters_item);
    m.message_of(9, v.get("responses"), responses);
    m.strings(10, v.get("schemes"));
    m.bool(11, flag(v, "deprecated"));
    m.each(12, v.get("security"), security_requirement);
    extensions(m, 13, v);
}

/// `ParametersItem`: a `JsonReference` (2) or a `Parameter` (1).
fn parameters_item(m: &mut Msg, v: &Value) {
    let o = object(v);
    if o.contains_key("$ref") {
        m.message(2, |m| json_reference(m, o));
    } else {
        m.message(1, |m| parameter(m, v));
    }
}

fn json_reference(m: &mut Msg, v: &Map<String, Value>) {
    m.string(1, text(v, "$ref"));
    m.string(2, text(v, "description"));
}

/// `Parameter`: a `BodyParameter` (1) or a `NonBodyParameter` (2), whose oneof is chosen by
/// `in`: header (1), formData (2), query (3), path (4).
fn parameter(m: &mut Msg, v: &Value) {
    let o = object(v);
    let (field, allows_empty) = match text(o, "in") {
        "body" => {
            m.message(1, |m| {
                m.string(1, text(o, "description"));
                m.string(2, text(o, "name"));
                m.string(3, text(o, "in"));
                m.bool(4, flag(o, "required"));
                m.message_of(5, o.get("schema"), schema);
                extensions(m, 6, o);
            });
            return;
        }
        "header" => (1, false),
        "formData" => (2, true),
        "query" => (3, true),
        "path" => (4, false),
        _ => return,
    };
    m.message(2, |m| {
        m.message(field, |m| {
            m.bool(1, flag(o, "required"));
            m.string(2, text(o, "in"));
            m.string(3, text(o, "description"));
            m.string(4, text(o, "name"));
            let first = if allows_empty {
                m.bool(5, flag(o, "allowEmptyValue"));
                6
            } else {
                5
            };
            let next = primitive(m, o, first);
            extensions(m, next, o);
        })
    });
}

/// The fields every primitive-typed message shares, in the same order (`type` through
/// `multipleOf`), numbered from `first`; returns the number after the last.
fn primitive(m: &mut Msg, v: &Map<String, Value>, first: u32) -> u32 {
    m.string(first, text(v, "type"));
    m.string(first + 1, text(v, "format"));
    m.message_of(first + 2, v.get("items"), primitives_items);
    m.string(first + 3, text(v, "collectionFormat"));
    m.message_of(first + 4, v.get("default"), any);
    m.double(first + 5, double(v, "maximum"));
    m.bool(first + 6, flag(v, "exclusiveMaximum"));
    m.double(first + 7, double(v, "minimum"));
    m.bool(first + 8, flag(v, "exclusiveMinimum"));
    m.int64(first + 9, int(v, "maxLength"));
    m.int64(first + 10, int(v, "minLength"));
    m.string(first + 11, text(v, "pattern"));
    m.int64(first + 12, int(v, "maxItems"));
    m.int64(first + 13, int(v, "minItems"));
    m.bool(first + 14, flag(v, "uniqueItems"));
    m.each(first + 15, v.get("enum"), any);
    m.double(first + 16, double(v, "multipleOf"));
    first + 17
}

fn primitives_items(m: &mut Msg, v: &Value) {
    let v = object(v);
    let next = primitive(m, v, 1);
    extensions(m, next, v);
}

fn header(m: &mut Msg, v: &Value) {
    let v = object(v);
    let next = primitive(m, v, 1);
    m.string(next, text(v, "description"));
    extensions(m, next + 1, v);
}

/// `Responses`: one `NamedResponseValue` per status code (1), vendor extensions (2).
fn responses(m: &mut Msg, v: &Value) {
    let v = object(v);
    named_at(
        m,
        1,
        v.iter().filter(|(k, _)| !k.starts_with("x-")),
        |m, r| {
            let o = object(r);
            if o.contains_key("$ref") {
                m.message(2, |m| json_reference(m, o));
            } else {
                m.message(1, |m| response(m, r));
            }
        },
    );
    extensions(m, 2, v);
}

fn response(m: &mut Msg, v: &Value) {
    let v = object(v);
    m.string(1, text(v, "description"));
    // `SchemaItem`: a `FileSchema` (2) for `type: file`, else a `Schema` (1).
    m.message_of(2, v.get("schema"), |m, s| {
        if s.get("type").and_then(Value::as_str) == Some("file") {
            m.message(2, |m| file_schema(m, s));
        } else {
            m.message(1, |m| schema(m, s));
        }
    });
    m.message_of(3, v.get("headers"), |m, h| named(m, h, header));
    m.message_of(4, v.get("examples"), |m, e| named(m, e, any));
    extensions(m, 5, v);
}

fn file_schema(m: &mut Msg, v: &Value) {
    let v = object(v);
    m.string(1, text(v, "format"));
    m.string(2, text(v, "title"));
    m.string(3, text(v, "description"));
    m.message_of(4, v.get("default"), any);
    m.strings(5, v.get("required"));
    m.string(6, text(v, "type"));
    m.bool(7, flag(v, "readOnly"));
    m.message_of(8, v.get("externalDocs"), external_docs);
    m.message_of(9, v.get("example"), any);
    extensions(m, 10, v);
}

/// `Schema`. `type` is a `TypeItem` (a string or a list of them), `items` an `ItemsItem`
/// (one schema or a list), `additionalProperties` an `AdditionalPropertiesItem` (a schema or
/// a boolean).
fn schema(m: &mut Msg, v: &Value) {
    let v = object(v);
    m.string(1, text(v, "$ref"));
    m.string(2, text(v, "format"));
    m.string(3, text(v, "title"));
    m.string(4, text(v, "description"));
    m.message_of(5, v.get("default"), any);
    m.double(6, double(v, "multipleOf"));
    m.double(7, double(v, "maximum"));
    m.bool(8, flag(v, "exclusiveMaximum"));
    m.double(9, double(v, "minimum"));
    m.bool(10, flag(v, "exclusiveMinimum"));
    m.int64(11, int(v, "maxLength"));
    m.int64(12, int(v, "minLength"));
    m.string(13, text(v, "pattern"));
    m.int64(14, int(v, "maxItems"));
    m.int64(15, int(v, "minItems"));
    m.bool(16, flag(v, "uniqueItems"));
    m.int64(17, int(v, "maxProperties"));
    m.int64(18, int(v, "minProperties"));
    m.strings(19, v.get("required"));
    m.each(20, v.get("enum"), any);
    m.message_of(21, v.get("additionalProperties"), |m, a| match a {
        Value::Bool(b) => m.bool_always(2, *b),
        _ => m.message(1, |m| schema(m, a)),
    });
    m.message_of(22, v.get("type"), |m, t| match t {
        Value::String(s) => m.string_always(1, s),
        _ => m.strings(1, Some(t)),
    });
    m.message_of(23, v.get("items"), |m, i| match i {
        Value::Array(_) => m.each(1, Some(i), schema),
        _ => m.message(1, |m| schema(m, i)),
    });
    m.each(24, v.get("allOf"), schema);
    m.message_of(25, v.get("properties"), |m, p| named(m, p, schema));
    m.string(26, text(v, "discriminator"));
    m.bool(27, flag(v, "readOnly"));
    m.message_of(28, v.get("xml"), |m, x| {
        let x = object(x);
        m.string(1, text(x, "name"));
        m.string(2, text(x, "namespace"));
        m.string(3, text(x, "prefix"));
        m.bool(4, flag(x, "attribute"));
        m.bool(5, flag(x, "wrapped"));
        extensions(m, 6, x);
    });
    m.message_of(29, v.get("externalDocs"), external_docs);
    m.message_of(30, v.get("example"), any);
    extensions(m, 31, v);
}

#[cfg(test)]
mod tests;
