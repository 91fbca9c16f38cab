//! The OpenAPI v3 documents of custom resources' group-versions, made from their schemas
//! when asked for, as apiextensions-apiserver's `builder` does: each kind's schema with
//! `apiVersion`, `kind` and `metadata`, its list, and the REST operations (whose PATCH takes
//! no strategic merge patch, so kubectl sends merge patches).

use super::{Document, closure, hash, operations};
use krust_api::resources::Resource;
use krust_api::schema::REF_PREFIX;
use serde_json::{Map, Value, json};

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const SMP: &str = "application/strategic-merge-patch+json";

/// The definition name of a custom kind: its group reversed, then version and kind
/// (`com.example.stable.v1.CronTab`).
fn definition_name(r: &Resource, kind: &str) -> String {
    let group: Vec<&str> = r.group.split('.').rev().collect();
    format!("{}.{}.{kind}", group.join("."), r.version)
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("{REF_PREFIX}{name}")})
}

fn gvk(r: &Resource, kind: &str) -> Value {
    json!([{"group": r.group, "version": r.version, "kind": kind}])
}

/// The kind's schema: the version's, with the fields every object has.
fn kind_schema(r: &Resource, schema: &Value) -> Value {
    let mut s = schema.clone();
    let props = s["properties"].as_object().cloned().unwrap_or_default();
    let mut all = Map::new();
    all.insert("apiVersion".into(), json!({"type": "string",
        "description": "APIVersion defines the versioned schema of this representation of an object."}));
    all.insert("kind".into(), json!({"type": "string",
        "description": "Kind is a string value representing the REST resource this object represents."}));
    all.insert("metadata".into(), reference(OBJECT_META));
    all.extend(props.into_iter().filter(|(k, _)| k != "metadata"));
    s["properties"] = Value::Object(all);
    s["x-kubernetes-group-version-kind"] = gvk(r, r.kind);
    s
}

fn list_schema(r: &Resource, item: &str) -> Value {
    json!({
        "type": "object", "required": ["items"],
        "description": format!("{} is a list of {}", r.list_kind(), r.kind),
        "properties": {
            "apiVersion": {"type": "string"}, "kind": {"type": "string"},
            "items": {"type": "array", "items": reference(item)},
            "metadata": reference(LIST_META),
        },
        "x-kubernetes-group-version-kind": gvk(r, &r.list_kind()),
    })
}

/// The document of `group/version`, if custom resources are served there.
pub fn document(all: &[&Resource], group: &str, version: &str) -> Option<Document> {
    let served: Vec<&&Resource> = all
        .iter()
        .filter(|r| r.custom.is_some() && r.group == group && r.version == version)
        .collect();
    if served.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    let mut schemas = closure([
        OBJECT_META.to_string(),
        LIST_META.to_string(),
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status".to_string(),
        "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions".to_string(),
    ]);
    for r in served {
        let custom = r.custom.expect("custom");
        let def = definition_name(r, r.kind);
        let list_def = definition_name(r, &r.list_kind());
        schemas.insert(def.clone(), kind_schema(r, &custom.schema));
        schemas.insert(list_def.clone(), list_schema(r, &def));
        let (mut item, list) = operations(r, &def, Some(&list_def));
        if let Some(content) = item
            .pointer_mut("/patch/requestBody/content")
            .and_then(Value::as_object_mut)
        {
            content.remove(SMP);
        }
        let coll = match r.namespaced {
            true => format!(
                "/apis/{group}/{version}/namespaces/{{namespace}}/{}",
                r.plural
            ),
            false => format!("/apis/{group}/{version}/{}", r.plural),
        };
        paths.insert(format!("{coll}/{{name}}"), item);
        paths.insert(coll, list);
    }
    let doc = json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    });
    let body = serde_json::to_vec(&doc).unwrap_or_default();
    Some(Document {
        hash: hash(&body),
        body,
    })
}
