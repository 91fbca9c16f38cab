//! OpenAPI v3 (per group-version documents and their index) and v2 (Swagger 2.0 JSON, and
//! its protobuf form in [`v2_proto`]), generated from the resource table and the k8s-openapi
//! schemas (`krust_api::schema`), as kube-apiserver's kube-openapi builds them.

mod custom;
mod swagger;
mod v2_proto;
mod wire;

use bytes::Bytes;
use krust_api::resources::{RESOURCES, Resource, group_version, group_versions};
use krust_api::schema::{self, REF_PREFIX};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::sync::LazyLock;

/// A generated document and its content hash.
pub struct Document {
    pub body: Vec<u8>,
    pub hash: String,
}

fn hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h = (h ^ *b as u64).wrapping_mul(0x100000001b3);
    }
    format!("{h:016X}")
}

fn refs(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(REF_PREFIX))
            {
                out.insert(r.to_string());
            }
            m.values().for_each(|c| refs(c, out));
        }
        Value::Array(a) => a.iter().for_each(|c| refs(c, out)),
        _ => {}
    }
}

/// The definitions `roots` need, transitively.
fn closure(roots: impl IntoIterator<Item = String>) -> Map<String, Value> {
    let mut todo: Vec<String> = roots.into_iter().collect();
    let mut out = Map::new();
    while let Some(name) = todo.pop() {
        if out.contains_key(&name) {
            continue;
        }
        let Some(def) = schema::definition(&name) else {
            continue;
        };
        let mut found = BTreeSet::new();
        refs(def, &mut found);
        todo.extend(found);
        out.insert(name, def.clone());
    }
    out
}

fn gvk(r: &Resource) -> Value {
    json!({"group": r.group, "version": r.version, "kind": r.kind})
}

fn param(name: &str, kind: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": kind}})
}

fn content(def: &str) -> Value {
    json!({"application/json": {"schema": {"$ref": format!("{REF_PREFIX}{def}")}}})
}

/// One operation of `r`, by its action (`get`, `post`, …) and operation id.
fn operation(r: &Resource, action: &str, id: String) -> Value {
    json!({"operationId": id, "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk(r)})
}

/// The query parameters of every write.
fn write_params() -> Vec<Value> {
    vec![
        param("dryRun", "string"),
        param("fieldManager", "string"),
        param("fieldValidation", "string"),
    ]
}

fn operations(r: &Resource, def: &str, list_def: Option<&str>) -> (Value, Value) {
    let x = |action: &str, id: String| operation(r, action, id);
    let ok = |d: &str| json!({"200": {"description": "OK", "content": content(d)}});
    let mut item = Map::new();
    let mut get = x("get", format!("read{}", r.kind));
    get["responses"] = ok(def);
    item.insert("get".into(), get);
    let mut put = x("put", format!("replace{}", r.kind));
    put["parameters"] = json!(write_params());
    put["requestBody"] = json!({"content": content(def), "required": true});
    put["responses"] = ok(def);
    item.insert("put".into(), put);
    let mut patch = x("patch", format!("patch{}", r.kind));
    let mut pp = write_params();
    pp.push(param("force", "boolean"));
    patch["parameters"] = json!(pp);
    let obj = json!({"schema": {"type": "object"}});
    patch["requestBody"] = json!({"content": {"application/apply-patch+yaml": obj, "application/json-patch+json": obj,
        "application/merge-patch+json": obj, "application/strategic-merge-patch+json": obj}, "required": true});
    patch["responses"] = ok(def);
    item.insert("patch".into(), patch);
    let mut delete = x("delete", format!("delete{}", r.kind));
    delete["parameters"] = json!([
        param("dryRun", "string"),
        param("gracePeriodSeconds", "integer"),
        param("propagationPolicy", "string")
    ]);
    delete["responses"] = ok(def);
    item.insert("delete".into(), delete);

    let mut coll = Map::new();
    let mut list = x("list", format!("list{}", r.kind));
    list["parameters"] = json!([
        param("labelSelector", "string"),
        param("fieldSelector", "string"),
        param("limit", "integer"),
        param("continue", "string"),
        param("resourceVersion", "string"),
        param("watch", "boolean")
    ]);
    list["responses"] = ok(list_def.unwrap_or(def));
    coll.insert("get".into(), list);
    coll.insert("post".into(), create(r, def));
    (Value::Object(item), Value::Object(coll))
}

/// `POST` of a collection.
fn create(r: &Resource, def: &str) -> Value {
    let mut post = operation(r, "post", format!("create{}", r.kind));
    post["parameters"] = json!(write_params());
    post["requestBody"] = json!({"content": content(def), "required": true});
    post["responses"] = json!({"201": {"description": "Created", "content": content(def)}});
    post
}

fn group_version_document(group: &str, version: &str) -> Value {
    let mut paths = Map::new();
    let mut roots = vec![
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status".to_string(),
        "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions".to_string(),
    ];
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let Some(def) = schema::definition_for(r.group, r.version, r.kind) else {
            continue;
        };
        roots.push(def.to_string());
        let list_def = schema::definition_for(r.group, r.version, &r.list_kind());
        roots.extend(list_def.map(String::from));
        let base = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        let coll = if r.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}", r.plural)
        } else {
            format!("{base}/{}", r.plural)
        };
        if !r.is_listable() {
            // Only ever created (bindings, reviews): the collection's POST alone.
            paths.insert(coll, json!({"post": create(r, def)}));
            continue;
        }
        let (item, list) = operations(r, def, list_def);
        paths.insert(format!("{coll}/{{name}}"), item);
        paths.insert(coll, list);
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.4"},
        "paths": paths,
        "components": {"schemas": closure(roots)},
    })
}

/// `<prefix>` → document, for every served group-version (`api/v1`, `apis/apps/v1`, …).
pub static V3: LazyLock<Vec<(String, Document)>> = LazyLock::new(|| {
    group_versions(RESOURCES)
        .into_iter()
        .map(|(g, v)| {
            let prefix = if g.is_empty() {
                format!("api/{v}")
            } else {
                format!("apis/{}", group_version(g, v))
            };
            let body = serde_json::to_vec(&group_version_document(g, v)).unwrap_or_default();
            let hash = hash(&body);
            (prefix, Document { body, hash })
        })
        .collect()
});

/// The document of a custom resources' group-version (`apis/<group>/<version>`), if any
/// is served there.
pub fn custom_document(all: &[&Resource], prefix: &str) -> Option<Document> {
    let (group, version) = prefix.strip_prefix("apis/")?.split_once('/')?;
    custom::document(all, group, version)
}

/// The `/openapi/v3` index: the built-in group-versions, then the custom resources'.
pub fn v3_index(all: &[&Resource]) -> Value {
    let entry = |p: &str, d: &Document| {
        let url = format!("/openapi/v3/{p}?hash={}", d.hash);
        (p.to_string(), json!({"serverRelativeURL": url}))
    };
    let mut paths: Map<String, Value> = V3.iter().map(|(p, d)| entry(p, d)).collect();
    let mut custom: Vec<String> = all
        .iter()
        .filter(|r| r.custom.is_some())
        .map(|r| format!("apis/{}/{}", r.group, r.version))
        .collect();
    custom.dedup();
    for p in custom {
        if let Some(d) = custom_document(all, &p) {
            paths.extend([entry(&p, &d)]);
        }
    }
    json!({"paths": paths})
}

/// The Swagger 2.0 document (`/openapi/v2`) in the two forms kube-apiserver serves.
pub struct V2Document {
    /// Swagger 2.0 JSON.
    pub json: Bytes,
    /// The same document as gnostic's `openapi.v2.Document` protobuf ([`v2_proto`]).
    pub protobuf: Bytes,
    /// The ETag of both forms (they differ by `Accept`, so answers carry `Vary: Accept`).
    pub etag: String,
    /// When the document was built, for `Last-Modified`.
    pub built: jiff::Timestamp,
}

/// The Swagger 2.0 document of every served group-version.
fn swagger() -> Value {
    let mut paths = Map::new();
    let mut definitions = Map::new();
    for (g, v) in group_versions(RESOURCES) {
        let doc = group_version_document(g, v);
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            paths.insert(path.clone(), swagger::path_item(path, item));
        }
        for (name, def) in doc["components"]["schemas"]
            .as_object()
            .into_iter()
            .flatten()
        {
            definitions.insert(name.clone(), swagger::schema(def));
        }
    }
    json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.32.4"},
        "paths": paths, "definitions": definitions})
}

/// `/openapi/v2`'s protobuf media type as kube-apiserver writes it in `Content-Type`.
pub const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// The form of `/openapi/v2` an `Accept` header asks for: its content type and body, or
/// `None` (406). As kube-openapi's handler: clauses by falling `q`, the first that names (or
/// wildcards) JSON, or the protobuf type in either spelling (kubectl sends the older
/// `...spec.v2@v1.0+protobuf`), wins.
pub fn v2_form(accept: &str) -> Option<(&'static str, Bytes)> {
    let mut clauses: Vec<(f32, &str)> = accept
        .split(',')
        .filter_map(|clause| {
            let mut parts = clause.split(';').map(str::trim);
            let media = parts.next().filter(|m| !m.is_empty())?;
            let q = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse().ok())
                .unwrap_or(1.0);
            Some((q, media))
        })
        .filter(|(q, _)| *q > 0.0)
        .collect();
    clauses.sort_by(|a, b| b.0.total_cmp(&a.0));
    let offers = [
        ("application/json", "application/json", &V2.json),
        (
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
            V2_PROTOBUF,
            &V2.protobuf,
        ),
        (V2_PROTOBUF, V2_PROTOBUF, &V2.protobuf),
    ];
    clauses.iter().find_map(|(_, media)| {
        let (ty, sub) = media.split_once('/').unwrap_or((media, ""));
        offers.iter().find_map(|(offer, content_type, body)| {
            let (oty, osub) = offer.split_once('/').unwrap_or_default();
            ((ty == "*" || ty.eq_ignore_ascii_case(oty))
                && (sub == "*" || sub.eq_ignore_ascii_case(osub)))
            .then(|| (*content_type, (*body).clone()))
        })
    })
}

/// `/openapi/v2`, built once.
pub static V2: LazyLock<V2Document> = LazyLock::new(|| {
    let doc = swagger();
    let json = serde_json::to_vec(&doc).unwrap_or_default();
    V2Document {
        etag: format!("\"{}\"", hash(&json)),
        protobuf: v2_proto::encode(&doc).into(),
        json: json.into(),
        built: jiff::Timestamp::now(),
    }
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_document_declares_field_validation_on_patch() {
        let (_, doc) = V3.iter().find(|(p, _)| p == "apis/apps/v1").unwrap();
        let v: Value = serde_json::from_slice(&doc.body).unwrap();
        let patch = &v["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert!(
            patch["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        assert!(v["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"].is_object());
        assert!(
            v3_index(&[])["paths"]["api/v1"]["serverRelativeURL"]
                .as_str()
                .unwrap()
                .contains("hash=")
        );
    }
}
