//! `metrics.k8s.io/v1beta1`, served by the API server itself instead of an aggregated
//! metrics-server: `NodeMetrics` and `PodMetrics` (get, list, label selectors, namespaces),
//! answered from the kubelets' `/stats/summary` (metrics-server's scraper and storage,
//! without the cache: each request asks the nodes concerned). A node without a kubelet
//! endpoint (a simulated node) or whose kubelet does not answer has no metrics, as
//! metrics-server leaves out nodes it cannot scrape.

mod convert;
pub mod discovery;
mod scrape;

use crate::api::Api;
use crate::registry::ListQuery;
use crate::respond;
use axum::response::Response;
use krust_api::selectors::LabelSelector;
use krust_api::status::ApiError;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Serves a path under `/apis/metrics.k8s.io` (`segs` after `apis`); `query` the raw query.
pub async fn serve(api: Arc<Api>, method: &http::Method, segs: &[&str], query: &str) -> Response {
    if method != http::Method::GET {
        return respond::error(&ApiError::method_not_allowed(format!(
            "{method} is not supported on {}",
            discovery::GROUP
        )));
    }
    let answer = match segs {
        [_] => {
            let mut body = discovery::api_group();
            body["kind"] = json!("APIGroup");
            body["apiVersion"] = json!("v1");
            Ok(body)
        }
        [_, discovery::VERSION] => Ok(discovery::resource_list()),
        [_, discovery::VERSION, rest @ ..] => match selector(query) {
            Ok(labels) => resource(&api, rest, labels).await,
            Err(e) => Err(e),
        },
        _ => Err(crate::path::not_found()),
    };
    match answer {
        Ok(body) => respond::json(200, &body),
        Err(e) => respond::error(&e),
    }
}

fn selector(query: &str) -> Result<Option<LabelSelector>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    match pairs.iter().find(|(k, _)| k == "labelSelector") {
        Some((_, s)) if !s.is_empty() => LabelSelector::parse(s)
            .map(Some)
            .map_err(|e| ApiError::bad_request(e.to_string())),
        _ => Ok(None),
    }
}

async fn resource(
    api: &Arc<Api>,
    rest: &[&str],
    labels: Option<LabelSelector>,
) -> Result<Value, ApiError> {
    match rest {
        ["nodes"] => nodes(api, labels, None).await,
        ["nodes", name] => nodes(api, None, Some(name)).await,
        ["pods"] => pods(api, None, labels, None).await,
        ["namespaces", ns, "pods"] => pods(api, Some(ns), labels, None).await,
        ["namespaces", ns, "pods", name] => pods(api, Some(ns), None, Some(name)).await,
        _ => Err(crate::path::not_found()),
    }
}

fn table(plural: &str) -> Result<&'static krust_api::resources::Resource, ApiError> {
    krust_api::resources::find("", "v1", plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} are not served")))
}

/// The objects of `plural`: one by name (404 as `<kind>metrics` when absent), or a list.
async fn objects(
    api: &Api,
    plural: &str,
    ns: Option<&str>,
    labels: Option<LabelSelector>,
    name: Option<&str>,
) -> Result<Vec<Value>, ApiError> {
    let resource = table(plural)?;
    if let Some(name) = name {
        return match api.registry.get(resource, ns, name).await {
            Ok(o) => Ok(vec![o]),
            Err(e) if e.code == 404 => Err(metrics_not_found(plural, name)),
            Err(e) => Err(e),
        };
    }
    let q = ListQuery {
        namespace: ns.map(String::from),
        labels,
        ..Default::default()
    };
    Ok(api.registry.list(resource, &q).await?.items)
}

fn metrics_not_found(plural: &str, name: &str) -> ApiError {
    ApiError::not_found(discovery::GROUP, plural, name)
}

async fn nodes(
    api: &Arc<Api>,
    labels: Option<LabelSelector>,
    name: Option<&str>,
) -> Result<Value, ApiError> {
    let nodes = objects(api, "nodes", None, labels, name).await?;
    let names: Vec<String> = nodes.iter().filter_map(object_name).collect();
    let summaries = scrape::summaries(api, &names).await;
    let items: Vec<Value> = nodes
        .iter()
        .filter_map(|n| convert::node_metrics(n, summaries.get(&object_name(n)?)?))
        .collect();
    single_or_list(name, "nodes", "NodeMetrics", items)
}

async fn pods(
    api: &Arc<Api>,
    ns: Option<&str>,
    labels: Option<LabelSelector>,
    name: Option<&str>,
) -> Result<Value, ApiError> {
    let pods = objects(api, "pods", ns, labels, name).await?;
    let mut by_node: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for p in &pods {
        let node = p.pointer("/spec/nodeName").and_then(Value::as_str);
        let running = p.pointer("/status/phase").and_then(Value::as_str) == Some("Running");
        if let Some(node) = node.filter(|n| !n.is_empty() && running) {
            by_node.entry(node.to_string()).or_default().push(p);
        }
    }
    let names: Vec<String> = by_node.keys().cloned().collect();
    let summaries: HashMap<String, Value> = scrape::summaries(api, &names).await;
    let items: Vec<Value> = by_node
        .iter()
        .filter_map(|(node, pods)| Some((summaries.get(node)?, pods)))
        .flat_map(|(summary, pods)| pods.iter().filter_map(|p| convert::pod_metrics(p, summary)))
        .collect();
    single_or_list(name, "pods", "PodMetrics", items)
}

fn single_or_list(
    name: Option<&str>,
    plural: &str,
    kind: &str,
    mut items: Vec<Value>,
) -> Result<Value, ApiError> {
    match name {
        Some(name) => items.pop().ok_or_else(|| metrics_not_found(plural, name)),
        None => Ok(convert::list(kind, items)),
    }
}

fn object_name(v: &Value) -> Option<String> {
    v.pointer("/metadata/name")
        .and_then(Value::as_str)
        .map(String::from)
}
