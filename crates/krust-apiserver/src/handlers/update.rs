//! PUT: replace an object, its status, its scale, or a namespace's finalizers.

use super::Call;
use crate::respond;
use axum::response::Response;
use bytes::Bytes;
use krust_api::status::ApiError;
use serde_json::Value;

pub async fn update(call: &Call, body: Bytes) -> Result<Response, ApiError> {
    let sub = call.target.subresource.map(|s| s.name);
    if sub == Some("scale") {
        return super::scale::update(call, &body).await;
    }
    let (obj, warnings) = super::create::body_object(call, call.target.resource, &body)?;
    let opts = call.write_options()?;
    let registry = &call.api.registry;
    let (stored, created) = match sub {
        None => {
            registry
                .update(
                    call.stored(),
                    call.namespace(),
                    call.name(),
                    obj,
                    false,
                    &opts,
                )
                .await?
        }
        Some("status") => {
            registry
                .update(
                    call.stored(),
                    call.namespace(),
                    call.name(),
                    obj,
                    true,
                    &opts,
                )
                .await?
        }
        Some("finalize") => {
            let finalizers = obj
                .pointer("/spec/finalizers")
                .cloned()
                .unwrap_or(Value::Array(vec![]));
            let ns = registry
                .read_modify_write(call.stored(), None, call.name(), false, &opts, |mut ns| {
                    ns["spec"]["finalizers"] = finalizers.clone();
                    Ok(ns)
                })
                .await?;
            (ns, false)
        }
        Some(other) => {
            return Err(ApiError::method_not_allowed(format!(
                "PUT is not supported on {other}"
            )));
        }
    };
    Ok(respond::warn(
        call.written(if created { 201 } else { 200 }, stored),
        &warnings,
    ))
}
