//! GET of one object (and of its `status`, `scale` and `log` subresources).

use super::Call;
use axum::response::Response;
use krust_api::status::ApiError;

pub async fn get(call: &Call) -> Result<Response, ApiError> {
    match call.target.subresource.map(|s| s.name) {
        Some("scale") => return super::scale::get(call).await,
        Some("log") => return log(call).await,
        Some("status") | None => {}
        Some(other) => {
            return Err(ApiError::method_not_allowed(format!(
                "GET is not supported on {other}"
            )));
        }
    }
    let kv = call
        .api
        .registry
        .get_stored(call.stored(), call.namespace(), call.name())
        .await?;
    match call.stored_answer(200, &kv) {
        Some(answer) => Ok(answer),
        None => Ok(call.object(200, crate::registry::decode(&kv)?)),
    }
}

/// Logs are served by the node running the pod; until nodes serve them this says so.
async fn log(call: &Call) -> Result<Response, ApiError> {
    let pod = call
        .api
        .registry
        .get(call.stored(), call.namespace(), call.name())
        .await?;
    let container = call
        .params
        .get("container")
        .map(String::from)
        .or_else(|| {
            pod.pointer("/spec/containers/0/name")
                .and_then(|v| v.as_str())
                .map(String::from)
        })
        .unwrap_or_default();
    let node = pod
        .pointer("/spec/nodeName")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    let msg = if node.is_empty() {
        format!(
            "container {container:?} in pod {:?} is waiting to start: pod is not scheduled to a node",
            call.name()
        )
    } else {
        format!(
            "container {container:?} in pod {:?}: node {node:?} does not serve logs yet",
            call.name()
        )
    };
    Err(ApiError::bad_request(msg))
}
