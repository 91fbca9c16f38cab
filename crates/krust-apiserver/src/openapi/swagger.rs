//! Swagger 2.0 shapes of the OpenAPI 3 paths and schemas, for `/openapi/v2` (what
//! kube-openapi's `builder` publishes there): body parameters instead of `requestBody`,
//! parameter `type` instead of `schema`, response `schema` instead of `content`,
//! `consumes`/`produces` lists, path parameters declared on the path, `$ref`s into
//! `#/definitions/`, and `$ref` with siblings where OpenAPI 3 wraps it in `allOf`.

use krust_api::schema::REF_PREFIX;
use serde_json::{Map, Value, json};

/// What a Kubernetes operation answers in (kube-apiserver's v2 `produces`).
const PRODUCES: [&str; 3] = [
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];

/// The Swagger 2.0 path item of an OpenAPI 3 one at `path`.
pub fn path_item(path: &str, item: &Value) -> Value {
    let mut out = Map::new();
    for (method, op) in item.as_object().into_iter().flatten() {
        out.insert(method.clone(), operation(op));
    }
    let params: Vec<Value> = ["name", "namespace"]
        .iter()
        .filter(|p| path.contains(&format!("{{{p}}}")))
        .map(|p| {
            json!({"name": p, "in": "path", "required": true, "type": "string",
                "uniqueItems": true, "description": format!("{p} of the object")})
        })
        .collect();
    if !params.is_empty() {
        out.insert("parameters".into(), Value::Array(params));
    }
    Value::Object(out)
}

fn operation(op: &Value) -> Value {
    let mut out = Map::new();
    let mut params = Vec::new();
    for (key, value) in op.as_object().into_iter().flatten() {
        match key.as_str() {
            "requestBody" => {
                let content = value["content"].as_object();
                let consumes: Vec<&String> = content.into_iter().flat_map(|c| c.keys()).collect();
                out.insert("consumes".into(), json!(consumes));
                let body_schema = content
                    .and_then(|c| c.values().next())
                    .map(|media| schema(&media["schema"]))
                    .unwrap_or_else(|| json!({"type": "object"}));
                params.insert(
                    0,
                    json!({"name": "body", "in": "body", "required": true, "schema": body_schema}),
                );
            }
            "parameters" => params.extend(value.as_array().into_iter().flatten().map(parameter)),
            "responses" => {
                let responses: Map<String, Value> = value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(code, r)| (code.clone(), response(r)))
                    .collect();
                out.insert(key.clone(), Value::Object(responses));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    out.insert("produces".into(), json!(PRODUCES));
    out.insert("schemes".into(), json!(["https"]));
    if !params.is_empty() {
        out.insert("parameters".into(), Value::Array(params));
    }
    Value::Object(out)
}

/// A query parameter: its schema's `type` moves up onto the parameter.
fn parameter(p: &Value) -> Value {
    let mut out = p.as_object().cloned().unwrap_or_default();
    if let Some(Value::Object(s)) = out.remove("schema") {
        out.extend(s);
    }
    out.insert("uniqueItems".into(), true.into());
    Value::Object(out)
}

fn response(r: &Value) -> Value {
    let mut out = Map::new();
    out.insert(
        "description".into(),
        r.get("description").cloned().unwrap_or_else(|| "".into()),
    );
    let media = r["content"].as_object().and_then(|c| c.values().next());
    if let Some(s) = media.and_then(|m| m.get("schema")) {
        out.insert("schema".into(), schema(s));
    }
    Value::Object(out)
}

/// A definition or property schema in Swagger 2.0 form.
pub fn schema(s: &Value) -> Value {
    match s {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                match k.as_str() {
                    "$ref" => {
                        let r = v.as_str().unwrap_or_default();
                        let name = r.strip_prefix(REF_PREFIX).unwrap_or(r);
                        out.insert(k.clone(), format!("#/definitions/{name}").into());
                    }
                    // Maps of schemas.
                    "properties" | "definitions" => {
                        let entries = v.as_object().into_iter().flatten();
                        let map = entries.map(|(n, s)| (n.clone(), schema(s))).collect();
                        out.insert(k.clone(), Value::Object(map));
                    }
                    "items" | "additionalProperties" | "allOf" | "not" => {
                        out.insert(k.clone(), schema_or_list(v));
                    }
                    "nullable" => {}
                    _ => {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
            // OpenAPI 3 writes a described reference as `allOf: [{$ref}]`; Swagger 2.0 (as
            // Kubernetes publishes it) as `$ref` with siblings.
            if let Some(Value::Array(all)) = out.get("allOf")
                && let [only] = all.as_slice()
                && only.as_object().is_some_and(|o| o.len() == 1)
                && let Some(r) = only.get("$ref").cloned()
                && !out.contains_key("$ref")
            {
                out.remove("allOf");
                out.insert("$ref".into(), r);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn schema_or_list(v: &Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(a.iter().map(schema).collect()),
        other => schema(other),
    }
}
