//! Discovery: aggregated (`apidiscovery.k8s.io/v2` and `v2beta1`) and legacy, derived from the
//! resource table (its static part and the custom resources served), plus `metrics.k8s.io`
//! ([`crate::resource_metrics`]), served beside it.

use crate::resource_metrics::discovery as metrics;
use crate::respond;
use axum::response::Response;
use http::HeaderMap;
use krust_api::resources::{Resource, VERBS, group_version, groups};
use serde_json::{Value, json};

/// The versions of aggregated discovery served, newest first: `v2`, and `v2beta1`, which
/// kubectl 1.27–1.29 ask for (kube-apiserver 1.32 serves both; the documents have one shape).
const AGGREGATED_VERSIONS: [&str; 2] = ["v2", "v2beta1"];

/// The version of aggregated discovery the client accepts (the newest it names), if any; a
/// client that names none gets the legacy documents.
fn aggregated_version(headers: &HeaderMap) -> Option<&'static str> {
    let accepted: Vec<&str> = headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter(|t| t.contains("g=apidiscovery.k8s.io") && t.contains("as=APIGroupDiscoveryList"))
        .collect();
    AGGREGATED_VERSIONS.into_iter().find(|version| {
        accepted
            .iter()
            .any(|t| t.split(';').any(|p| p.trim() == format!("v={version}")))
    })
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

fn aggregated_group(all: &[&Resource], group: &str, versions: &[&str]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|version| {
            let resources: Vec<Value> = all
                .iter()
                .filter(|r| r.group == group && r.version == *version)
                .map(|r| aggregated_resource(r))
                .collect();
            json!({"version": version, "resources": resources, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": {"name": group}, "versions": versions})
}

fn aggregated(version: &'static str, items: Vec<Value>) -> Response {
    let body = json!({"kind": "APIGroupDiscoveryList", "apiVersion": format!("apidiscovery.k8s.io/{version}"),
                      "metadata": {}, "items": items});
    let content_type = match version {
        "v2" => "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
        _ => "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
    };
    respond::with_type(
        200,
        content_type,
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}

/// `GET /api`.
pub fn api(all: &[&Resource], headers: &HeaderMap, server_address: &str) -> Response {
    if let Some(version) = aggregated_version(headers) {
        return aggregated(version, vec![aggregated_group(all, "", &["v1"])]);
    }
    respond::json(
        200,
        &json!({"kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}),
    )
}

fn api_group(group: &str, versions: &[&str]) -> Value {
    let gv = |v: &&str| json!({"groupVersion": group_version(group, v), "version": v});
    let listed: Vec<Value> = versions.iter().map(gv).collect();
    json!({"name": group, "versions": listed, "preferredVersion": gv(&versions[0])})
}

/// `GET /apis`.
pub fn apis(all: &[&Resource], headers: &HeaderMap) -> Response {
    let named: Vec<(&str, Vec<&str>)> = groups(all.iter().copied())
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .collect();
    if let Some(version) = aggregated_version(headers) {
        let mut items: Vec<Value> = named
            .iter()
            .map(|(g, v)| aggregated_group(all, g, v))
            .collect();
        items.push(metrics::aggregated());
        return aggregated(version, items);
    }
    let mut groups: Vec<Value> = named.iter().map(|(g, v)| api_group(g, v)).collect();
    groups.push(metrics::api_group());
    respond::json(
        200,
        &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
    )
}

/// `GET /apis/<group>`.
pub fn group(all: &[&Resource], name: &str) -> Option<Response> {
    let (g, v) = groups(all.iter().copied())
        .into_iter()
        .find(|(g, _)| *g == name && !g.is_empty())?;
    let mut body = api_group(g, &v);
    body["kind"] = json!("APIGroup");
    body["apiVersion"] = json!("v1");
    Some(respond::json(200, &body))
}

/// `GET /api/v1` or `GET /apis/<group>/<version>`: an `APIResourceList`.
pub fn resource_list(all: &[&Resource], group: &str, version: &str) -> Option<Response> {
    let served: Vec<&Resource> = all
        .iter()
        .copied()
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
