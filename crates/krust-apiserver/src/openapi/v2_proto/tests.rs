//! Decodes the protobuf back with a small reader and checks gnostic's structure.

use super::encode;
use crate::openapi::V2;
use serde_json::{Value, json};

/// One field of a decoded message.
#[derive(Debug, Clone, PartialEq)]
enum Field<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
}

fn varint(b: &[u8], at: &mut usize) -> u64 {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = b[*at];
        *at += 1;
        n |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            break;
        }
    }
    n
}

/// A message as `(field number, value)` pairs, in order; panics on anything malformed.
fn fields(b: &[u8]) -> Vec<(u32, Field<'_>)> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < b.len() {
        let key = varint(b, &mut at);
        let value = match key & 7 {
            0 => Field::Varint(varint(b, &mut at)),
            1 => {
                let v = u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
                at += 8;
                Field::Fixed64(v)
            }
            2 => {
                let len = varint(b, &mut at) as usize;
                at += len;
                Field::Bytes(&b[at - len..at])
            }
            w => panic!("unexpected wire type {w}"),
        };
        out.push(((key >> 3) as u32, value));
    }
    out
}

/// Every length-delimited value of `field`.
fn all(b: &[u8], field: u32) -> Vec<&[u8]> {
    fields(b)
        .into_iter()
        .filter_map(|(f, v)| match v {
            Field::Bytes(b) if f == field => Some(b),
            _ => None,
        })
        .collect()
}

/// The one length-delimited value of `field`.
fn one(b: &[u8], field: u32) -> &[u8] {
    match all(b, field).as_slice() {
        [v] => v,
        other => panic!("field {field}: {} values", other.len()),
    }
}

fn text(b: &[u8], field: u32) -> String {
    String::from_utf8(one(b, field).to_vec()).unwrap()
}

fn texts(b: &[u8], field: u32) -> Vec<String> {
    all(b, field)
        .into_iter()
        .map(|s| String::from_utf8(s.to_vec()).unwrap())
        .collect()
}

/// The value (field 2) of the `Named*` entry called `name` among the repeated `field`.
fn named<'a>(b: &'a [u8], field: u32, name: &str) -> &'a [u8] {
    all(b, field)
        .into_iter()
        .find(|n| text(n, 1) == name)
        .map(|n| one(n, 2))
        .unwrap_or_else(|| panic!("no {name:?} in field {field}: {:?}", names(b, field)))
}

fn names(b: &[u8], field: u32) -> Vec<String> {
    all(b, field).into_iter().map(|n| text(n, 1)).collect()
}

/// A vendor extension's value: `NamedAny` at `field`, its `Any.yaml` parsed (it is JSON).
fn extension(b: &[u8], field: u32, name: &str) -> Value {
    serde_json::from_slice(one(named(b, field, name), 2)).unwrap()
}

/// `Document.definitions[name]`: a `Schema`.
fn definition<'a>(doc: &'a [u8], name: &str) -> &'a [u8] {
    named(one(doc, 9), 1, name)
}

/// `Schema.properties[name]`.
fn property<'a>(schema: &'a [u8], name: &str) -> &'a [u8] {
    named(one(schema, 25), 1, name)
}

#[test]
fn a_kind_definition_carries_its_properties_and_group_version_kind() {
    let doc = &V2.protobuf;
    assert_eq!(text(doc, 1), "2.0");
    let deployment = definition(doc, "io.k8s.api.apps.v1.Deployment");
    assert_eq!(texts(one(deployment, 22), 1), ["object"]);
    let spec = property(deployment, "spec");
    assert_eq!(
        text(spec, 1),
        "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"
    );
    assert!(
        !text(spec, 4).is_empty(),
        "a described reference keeps its description"
    );
    assert!(all(spec, 24).is_empty(), "no allOf around a reference");
    assert_eq!(
        extension(deployment, 31, "x-kubernetes-group-version-kind"),
        json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
    );
    let deployment_spec = definition(doc, "io.k8s.api.apps.v1.DeploymentSpec");
    let replicas = property(deployment_spec, "replicas");
    assert_eq!(texts(one(replicas, 22), 1), ["integer"]);
    assert_eq!(text(replicas, 2), "int32");
}

#[test]
fn patch_metadata_rides_on_properties_as_vendor_extensions() {
    let pod_spec = definition(&V2.protobuf, "io.k8s.api.core.v1.PodSpec");
    let containers = property(pod_spec, "containers");
    assert_eq!(
        extension(containers, 31, "x-kubernetes-patch-strategy"),
        "merge"
    );
    assert_eq!(
        extension(containers, 31, "x-kubernetes-patch-merge-key"),
        "name"
    );
    assert_eq!(texts(one(containers, 22), 1), ["array"]);
    let items = all(one(containers, 23), 1);
    assert_eq!(items.len(), 1);
    assert_eq!(
        text(items[0], 1),
        "#/definitions/io.k8s.api.core.v1.Container"
    );
}

#[test]
fn a_patch_operation_names_its_kind_and_the_field_validation_query_parameter() {
    let paths = one(&V2.protobuf, 8);
    let item = named(
        paths,
        2,
        "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
    );
    let patch = one(item, 8);
    assert_eq!(text(patch, 5), "patchDeployment");
    assert_eq!(
        extension(patch, 13, "x-kubernetes-group-version-kind"),
        json!({"group": "apps", "kind": "Deployment", "version": "v1"})
    );
    assert!(texts(patch, 7).contains(&"application/strategic-merge-patch+json".to_string()));
    // ParametersItem.parameter → Parameter.non_body_parameter → query_parameter_sub_schema.
    let queries: Vec<String> = all(patch, 8)
        .into_iter()
        .flat_map(|p| all(p, 1))
        .flat_map(|p| all(p, 2))
        .flat_map(|p| all(p, 3))
        .map(|q| {
            assert_eq!(text(q, 2), "query");
            let kind = if text(q, 4) == "force" {
                "boolean"
            } else {
                "string"
            };
            assert_eq!(text(q, 6), kind);
            text(q, 4)
        })
        .collect();
    assert!(
        queries.contains(&"fieldValidation".to_string()),
        "{queries:?}"
    );
    // The body parameter (Parameter.body_parameter) refers to the kind's definition.
    let body = all(patch, 8)
        .into_iter()
        .flat_map(|p| all(p, 1))
        .flat_map(|p| all(p, 1))
        .next()
        .expect("a body parameter");
    assert_eq!(text(body, 2), "body");
    // The path parameters are declared on the path (PathItem.parameters → path sub-schema).
    let path_params: Vec<String> = all(item, 9)
        .into_iter()
        .map(|p| one(one(one(p, 1), 2), 4))
        .map(|p| text(p, 4))
        .collect();
    assert_eq!(path_params, ["name", "namespace"]);
    // Responses.response_code["200"] → ResponseValue.response → SchemaItem.schema.
    let ok = named(one(patch, 9), 1, "200");
    let schema = one(one(one(ok, 1), 2), 1);
    assert_eq!(
        text(schema, 1),
        "#/definitions/io.k8s.api.apps.v1.Deployment"
    );
}

#[test]
fn schema_oneofs_take_their_shapes() {
    let doc = encode(&json!({"definitions": {"T": {
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "any": {"type": "object", "additionalProperties": true},
            "pair": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]},
            "either": {"type": ["string", "null"]},
        },
    }}}));
    let t = definition(&doc, "T");
    // AdditionalPropertiesItem: boolean (2) written even when false; schema (1).
    assert_eq!(fields(one(t, 21)), [(2, Field::Varint(0))]);
    assert_eq!(fields(one(property(t, "any"), 21)), [(2, Field::Varint(1))]);
    let values = one(one(property(t, "labels"), 21), 1);
    assert_eq!(texts(one(values, 22), 1), ["string"]);
    // ItemsItem: one schema per item; TypeItem: one value per type.
    assert_eq!(all(one(property(t, "pair"), 23), 1).len(), 2);
    assert_eq!(texts(one(property(t, "either"), 22), 1), ["string", "null"]);
}

#[test]
fn scalars_at_their_default_are_left_out_and_numbers_keep_their_wire_types() {
    assert_eq!(encode(&json!({"swagger": "2.0"})), b"\x0a\x032.0");
    assert_eq!(encode(&json!({"swagger": "", "host": null})), b"");
    let doc = encode(&json!({"definitions": {"N": {
        "maxLength": 300, "maximum": 1.5, "uniqueItems": false, "required": ["a", ""],
        "enum": ["x", 1], "default": {"k": [1]},
    }}}));
    let n = fields(definition(&doc, "N"));
    assert!(n.contains(&(11, Field::Varint(300))));
    assert!(n.contains(&(7, Field::Fixed64(1.5f64.to_bits()))));
    assert!(!n.iter().any(|(f, _)| *f == 16), "false is left out");
    let n = definition(&doc, "N");
    assert_eq!(texts(n, 19), ["a", ""]);
    let enums: Vec<String> = all(n, 20).into_iter().map(|a| text(a, 2)).collect();
    assert_eq!(enums, ["\"x\"", "1"]);
    assert_eq!(text(one(n, 5), 2), r#"{"k":[1]}"#);
}

#[test]
fn every_definition_and_path_of_the_json_form_is_in_the_protobuf() {
    let json: Value = serde_json::from_slice(&V2.json).unwrap();
    let doc = &V2.protobuf;
    let mut defs = names(one(doc, 9), 1);
    let mut want: Vec<String> = json["definitions"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    defs.sort();
    want.sort();
    assert_eq!(defs, want);
    assert_eq!(
        names(one(doc, 8), 2).len(),
        json["paths"].as_object().unwrap().len()
    );
}

/// The keys of a Swagger 2.0 `Schema` (the fields of gnostic's message).
const SCHEMA_KEYS: [&str; 30] = [
    "$ref",
    "format",
    "title",
    "description",
    "default",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxProperties",
    "minProperties",
    "required",
    "enum",
    "additionalProperties",
    "type",
    "items",
    "allOf",
    "properties",
    "discriminator",
    "readOnly",
    "xml",
    "externalDocs",
    "example",
];

/// The rules kubectl's model parser (kube-openapi `pkg/util/proto`, `NewOpenAPIData`) applies
/// to every definition; one break fails its whole document.
fn check_model(
    defs: &serde_json::Map<String, Value>,
    s: &Value,
    at: &str,
    errors: &mut Vec<String>,
) {
    let mut fail = |why: &str| errors.push(format!("{at}: {why}"));
    for key in s.as_object().into_iter().flat_map(|o| o.keys()) {
        if !key.starts_with("x-") && !SCHEMA_KEYS.contains(&key.as_str()) {
            fail(&format!(
                "{key} is not a Swagger 2.0 schema key (the protobuf drops it)"
            ));
        }
    }
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        if s.get("properties").is_some() || s.get("type").is_some() {
            fail("a reference with a type or properties");
        }
        match r.strip_prefix("#/definitions/") {
            Some(name) if defs.contains_key(name) => {}
            _ => fail(&format!("dangling reference {r}")),
        }
        return;
    }
    let types: Vec<&str> = match s.get("type") {
        None => vec![],
        Some(Value::String(t)) => vec![t.as_str()],
        Some(other) => {
            fail(&format!("more than one type: {other}"));
            return;
        }
    };
    match types.first().copied() {
        Some("array") => match s.get("items") {
            Some(items @ Value::Object(_)) => check_model(defs, items, &format!("{at}[]"), errors),
            _ => fail("an array without exactly one item schema"),
        },
        Some("object") | None => {
            for (name, p) in s
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                check_model(defs, p, &format!("{at}.{name}"), errors);
            }
            if let Some(a @ Value::Object(_)) = s.get("additionalProperties") {
                check_model(defs, a, &format!("{at}{{}}"), errors);
            }
        }
        Some("string" | "number" | "integer" | "boolean") => {}
        Some(t) => fail(&format!("unknown primitive type {t}")),
    }
}

#[test]
fn every_definition_passes_kubectls_model_parser_rules() {
    let json: Value = serde_json::from_slice(&V2.json).unwrap();
    let defs = json["definitions"].as_object().unwrap();
    let mut errors = Vec::new();
    for (name, def) in defs {
        check_model(defs, def, name, &mut errors);
    }
    assert!(errors.is_empty(), "{errors:#?}");
}
