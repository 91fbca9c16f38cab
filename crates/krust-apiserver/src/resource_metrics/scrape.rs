//! Asking kubelets for their Summary (metrics-server's scraper): `GET /stats/summary` on
//! each node's kubelet endpoint, all at once, each within [`TIMEOUT`]; a node that has no
//! endpoint, does not answer or answers badly is left out (and logged).

use crate::api::Api;
use http_body_util::{BodyExt, Empty};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// How long one kubelet may take (metrics-server's `--kubelet-request-timeout` is longer;
/// `kubectl top` waits for the answer).
const TIMEOUT: Duration = Duration::from_secs(5);

/// The Summaries of `nodes` that answered, by node name.
pub async fn summaries(api: &Api, nodes: &[String]) -> HashMap<String, Value> {
    let asks = nodes.iter().map(|n| async move {
        match tokio::time::timeout(TIMEOUT, summary(api, n)).await {
            Ok(Ok(Some(s))) => Some((n.clone(), s)),
            Ok(Ok(None)) => None,
            Ok(Err(e)) => {
                tracing::debug!(node = %n, error = %e, "scraping the kubelet");
                None
            }
            Err(_) => {
                tracing::debug!(node = %n, "scraping the kubelet timed out");
                None
            }
        }
    });
    futures::future::join_all(asks)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// One node's Summary; `None` for a node without a kubelet endpoint.
async fn summary(api: &Api, node: &str) -> anyhow::Result<Option<Value>> {
    let Some(addr) = crate::handlers::kubelet_endpoint(api, node)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?
    else {
        return Ok(None);
    };
    let req = http::Request::builder()
        .uri("/stats/summary?only_cpu_and_memory=true")
        .header(http::header::HOST, addr.to_string())
        .body(Empty::new())?;
    let answer = api.kubelets.send(addr, req).await?;
    let status = answer.status();
    let body = answer.into_body().collect().await?.to_bytes();
    anyhow::ensure!(status.is_success(), "kubelet answered {status}");
    Ok(Some(serde_json::from_slice(&body)?))
}
