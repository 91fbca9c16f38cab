//! `nodes/proxy` (kube-apiserver's node `ProxyREST`): `GET /api/v1/nodes/{node}/proxy/{path}`
//! sent on to that node's kubelet at `/{path}` with the query, the answer streamed back
//! (`kubectl get --raw /api/v1/nodes/N/proxy/stats/summary`). Only reads: the kubelet
//! client carries no request bodies, and upgrades go through the pod subresources.

use crate::api::Api;
use crate::respond;
use axum::body::Body;
use axum::response::Response;
use http_body_util::Empty;
use krust_api::status::ApiError;
use std::sync::Arc;

/// Serves `GET …/nodes/{node}/proxy/{path}`.
pub async fn serve(
    api: Arc<Api>,
    method: &http::Method,
    node: &str,
    path: &str,
    query: Option<&str>,
) -> Response {
    proxy(api, method, node, path, query)
        .await
        .unwrap_or_else(|e| respond::error(&e))
}

async fn proxy(
    api: Arc<Api>,
    method: &http::Method,
    node: &str,
    path: &str,
    query: Option<&str>,
) -> Result<Response, ApiError> {
    if method != http::Method::GET {
        return Err(ApiError::method_not_allowed(format!(
            "{method} is not supported on nodes/proxy"
        )));
    }
    let Some(addr) = super::kubelet_endpoint(&api, node).await? else {
        return Err(ApiError::new(
            503,
            "ServiceUnavailable",
            format!("node {node:?} has no kubelet endpoint"),
        ));
    };
    let uri = match query {
        Some(q) if !q.is_empty() => format!("/{path}?{q}"),
        _ => format!("/{path}"),
    };
    let req = http::Request::builder()
        .uri(uri)
        .header(http::header::HOST, addr.to_string())
        .body(Empty::new())
        .map_err(|e| ApiError::internal(format!("building the kubelet request: {e}")))?;
    let answer = api.kubelets.send(addr, req).await.map_err(|e| {
        ApiError::new(
            503,
            "ServiceUnavailable",
            format!("error trying to reach service: {e:#}"),
        )
    })?;
    let (parts, body) = answer.into_parts();
    let mut response = Response::builder().status(parts.status);
    if let Some(t) = parts.headers.get(http::header::CONTENT_TYPE) {
        response = response.header(http::header::CONTENT_TYPE, t);
    }
    Ok(response.body(Body::new(body)).expect("a valid response"))
}
