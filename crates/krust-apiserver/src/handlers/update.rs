//! PUT: replace an object, its status, its scale, a pod's ephemeral containers, or a
//! namespace's finalizers.

use super::Call;
use crate::registry::Part;
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
    let part = match sub {
        None => Part::Main,
        Some("status") => Part::Status,
        Some("finalize") => Part::Finalize,
        Some("ephemeralcontainers") => Part::EphemeralContainers,
        Some("approval") => Part::Approval,
        Some(other) => {
            return Err(ApiError::method_not_allowed(format!(
                "PUT is not supported on {other}"
            )));
        }
    };
    let (stored, created) = if part == Part::Finalize {
        let finalizers = obj
            .pointer("/spec/finalizers")
            .cloned()
            .unwrap_or(Value::Array(vec![]));
        let ns = registry
            .read_modify_write(call.stored(), None, call.name(), part, &opts, |ns| {
                let mut ns = ns.clone();
                ns["spec"]["finalizers"] = finalizers.clone();
                Ok(ns)
            })
            .await?;
        (ns, false)
    } else {
        let (ns, name) = (call.namespace(), call.name());
        registry
            .update(call.stored(), ns, name, obj, part, &opts)
            .await?
    };
    Ok(respond::warn(
        call.written(if created { 201 } else { 200 }, stored),
        &warnings,
    ))
}
