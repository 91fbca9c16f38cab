//! POST: create an object (and `pods/binding`).

use super::Call;
use crate::{negotiate, respond};
use axum::response::Response;
use bytes::Bytes;
use krust_api::convert;
use krust_api::decode::{FieldValidation, decode};
use krust_api::resources::Resource;
use krust_api::status::ApiError;
use serde_json::{Value, json};

/// Decodes a request body as an object of `resource` in its stored form, returning the
/// unknown-field warnings.
pub fn body_object(
    call: &Call,
    resource: &Resource,
    body: &[u8],
) -> Result<(Value, Vec<String>), ApiError> {
    let mut obj = negotiate::decode_object(&call.headers, body)?;
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "Object 'Kind' is missing in the request body: expected an object",
        ));
    }
    let api_version = resource.api_version();
    if let Some(v) = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .filter(|v| *v != api_version)
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({v}) does not match the expected API version ({api_version})"
        )));
    }
    if let Some(k) = obj
        .get("kind")
        .and_then(Value::as_str)
        .filter(|k| *k != resource.kind)
    {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({k}) does not match the expected kind ({})",
            resource.kind
        )));
    }
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(resource.kind);
    krust_api::meta::drop_nulls(&mut obj);
    let mode = FieldValidation::parse(call.params.get("fieldValidation"))?;
    let warnings = decode(&mut obj, resource, mode)?;
    Ok((convert::to_storage(resource, obj), warnings))
}

pub async fn create(call: &Call, body: Bytes) -> Result<Response, ApiError> {
    match call.target.subresource.map(|s| s.name) {
        Some("binding") => return binding(call, &body).await,
        Some(other) => {
            return Err(ApiError::method_not_allowed(format!(
                "POST is not supported on {other}"
            )));
        }
        None => {}
    }
    if call.target.resource.plural == "bindings" {
        return binding(call, &body).await;
    }
    if call.target.resource.custom.is_some_and(|c| c.terminating) {
        return Err(ApiError::method_not_allowed(
            "create not allowed while custom resource definition is terminating",
        ));
    }
    let (mut obj, warnings) = body_object(call, call.target.resource, &body)?;
    if call.target.resource.builtin_kind() == "CertificateSigningRequest" {
        crate::registry::set_requester(&mut obj, &call.identity);
    }
    let created = call
        .api
        .registry
        .create(call.stored(), call.namespace(), obj, &call.write_options()?)
        .await?;
    Ok(respond::warn(call.written(201, created), &warnings))
}

/// `pods/binding`: assigns a pod to a node, once.
async fn binding(call: &Call, body: &[u8]) -> Result<Response, ApiError> {
    let binding = negotiate::decode_object(&call.headers, body)?;
    let pod_name = match call.target.name.as_deref() {
        Some(n) => n.to_string(),
        None => krust_api::meta::name(&binding).to_string(),
    };
    let node = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if node.is_empty() {
        return Err(ApiError::invalid(
            "",
            "Binding",
            &pod_name,
            vec![krust_api::status::Cause::required("target.name", "")],
        ));
    }
    let binding = crate::registry::Binding {
        namespace: call.namespace().unwrap_or("default"),
        name: &pod_name,
        uid: krust_api::meta::meta_str(&binding, "uid"),
        node: &node,
        annotations: binding
            .pointer("/metadata/annotations")
            .and_then(Value::as_object),
    };
    call.api
        .registry
        .bind(&binding, call.params.dry_run()?)
        .await?;
    Ok(respond::json(
        201,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    ))
}
