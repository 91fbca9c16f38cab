//! Discovery: aggregated (`apidiscovery.k8s.io/v2`) and legacy, derived from the resource table.

use crate::respond;
use axum::response::Response;
use http::HeaderMap;
use krust_api::resources::{RESOURCES, Resource, VERBS, group_version, groups};
use serde_json::{Value, json};

/// The exact content type kubectl needs to take an aggregated answer.
pub const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Whether the client accepts aggregated discovery.
pub fn wants_aggregated(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("g=apidiscovery.k8s.io") && v.contains("as=APIGroupDiscoveryList"))
}

fn verbs(r: &Resource) -> Vec<&'static str> {
    if r.is_listable() {
        VERBS.to_vec()
    } else {
        vec!["create"]
    }
}

fn aggregated_resource(r: &Resource) -> Value {
    let subresources: Vec<Value> = r
        .subresources
        .iter()
        .map(|s| json!({"subresource": s.name, "responseKind": {"group": s.group, "version": s.version, "kind": s.kind}, "verbs": s.verbs}))
        .collect();
    let mut v = json!({
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": verbs(r),
    });
    if !r.short_names.is_empty() {
        v["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        v["categories"] = json!(r.categories);
    }
    if !subresources.is_empty() {
        v["subresources"] = Value::Array(subresources);
    }
    v
}

fn aggregated_group(group: &str, version: &str) -> Value {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .map(aggregated_resource)
        .collect();
    json!({"metadata": {"name": group}, "versions": [{"version": version, "resources": resources, "freshness": "Current"}]})
}

fn aggregated(items: Vec<Value>) -> Response {
    let body = json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items});
    respond::with_type(
        200,
        AGGREGATED,
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}

/// `GET /api`.
pub fn api(headers: &HeaderMap, server_address: &str) -> Response {
    if wants_aggregated(headers) {
        return aggregated(vec![aggregated_group("", "v1")]);
    }
    respond::json(
        200,
        &json!({"kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}),
    )
}

fn api_group(group: &str, version: &str) -> Value {
    let gv = json!({"groupVersion": group_version(group, version), "version": version});
    json!({"name": group, "versions": [gv], "preferredVersion": gv})
}

/// `GET /apis`.
pub fn apis(headers: &HeaderMap) -> Response {
    let named: Vec<(&str, &str)> = groups()
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .collect();
    if wants_aggregated(headers) {
        return aggregated(named.iter().map(|(g, v)| aggregated_group(g, v)).collect());
    }
    let groups: Vec<Value> = named.iter().map(|(g, v)| api_group(g, v)).collect();
    respond::json(
        200,
        &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
    )
}

/// `GET /apis/<group>`.
pub fn group(name: &str) -> Option<Response> {
    let (g, v) = groups()
        .into_iter()
        .find(|(g, _)| *g == name && !g.is_empty())?;
    let mut body = api_group(g, v);
    body["kind"] = json!("APIGroup");
    body["apiVersion"] = json!("v1");
    Some(respond::json(200, &body))
}

/// `GET /api/v1` or `GET /apis/<group>/<version>`: an `APIResourceList`.
pub fn resource_list(group: &str, version: &str) -> Option<Response> {
    let served: Vec<&Resource> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if served.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for r in served {
        let mut v = json!({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
            "kind": r.kind, "verbs": verbs(r)});
        if !r.short_names.is_empty() {
            v["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            v["categories"] = json!(r.categories);
        }
        resources.push(v);
        for s in r.subresources {
            let mut v = json!({"name": format!("{}/{}", r.plural, s.name), "singularName": "",
                "namespaced": r.namespaced, "kind": s.kind, "verbs": s.verbs});
            if s.group != r.group || s.version != r.version {
                v["group"] = json!(s.group);
                v["version"] = json!(s.version);
            }
            resources.push(v);
        }
    }
    Some(respond::json(
        200,
        &json!({"kind": "APIResourceList", "apiVersion": "v1",
        "groupVersion": group_version(group, version), "resources": resources}),
    ))
}
