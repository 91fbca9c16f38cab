//! GET of one object (and of its `status`, `scale` and `ephemeralcontainers` subresources;
//! `log` is proxied to the kubelet by `node_proxy`).

use super::Call;
use axum::response::Response;
use krust_api::status::ApiError;

pub async fn get(call: &Call) -> Result<Response, ApiError> {
    match call.target.subresource.map(|s| s.name) {
        Some("scale") => return super::scale::get(call).await,
        Some("status" | "ephemeralcontainers") | None => {}
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
