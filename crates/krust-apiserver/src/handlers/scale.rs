//! The `scale` subresource of deployments, replicasets and custom resources: an
//! `autoscaling/v1 Scale` view of `spec.replicas` (of the paths a custom resource's scale
//! subresource names).

use super::Call;
use crate::registry::Part;
use crate::{negotiate, respond};
use axum::response::Response;
use krust_api::resources::Resource;
use krust_api::status::ApiError;
use serde_json::{Value, json};

/// A JSON pointer of a scale path (`.spec.replicas` → `/spec/replicas`).
fn pointer(path: &str) -> String {
    path.replace('.', "/")
}

/// Where the desired replicas are.
fn spec_replicas(resource: &Resource) -> String {
    resource
        .custom
        .and_then(|c| c.scale.as_ref())
        .map_or("/spec/replicas".into(), |s| pointer(&s.spec_replicas))
}

/// The observed replicas and the label selector (as a string) of `obj`.
fn observed(resource: &Resource, obj: &Value) -> (Value, Value) {
    let Some(scale) = resource.custom.and_then(|c| c.scale.as_ref()) else {
        let selector = obj.pointer("/spec/selector").unwrap_or(&Value::Null);
        return (
            obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            json!(krust_api::selectors::label_selector_string(selector)),
        );
    };
    let replicas = obj.pointer(&pointer(&scale.status_replicas));
    let selector = scale
        .label_selector
        .as_ref()
        .and_then(|p| obj.pointer(&pointer(p)));
    (
        replicas.cloned().unwrap_or(json!(0)),
        selector.cloned().unwrap_or(json!("")),
    )
}

/// Sets the value at `pointer`, making the objects on the way.
fn set_at(obj: &mut Value, pointer: &str, value: Value) {
    let mut at = obj;
    for key in pointer.trim_start_matches('/').split('/') {
        if !at.is_object() {
            *at = json!({});
        }
        at = at
            .as_object_mut()
            .expect("an object")
            .entry(key)
            .or_insert(Value::Null);
    }
    *at = value;
}

fn scale_of(resource: &Resource, obj: &Value) -> Value {
    let meta = &obj["metadata"];
    let mut metadata = json!({});
    for f in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = meta.get(f) {
            metadata[f] = v.clone();
        }
    }
    let (replicas, selector) = observed(resource, obj);
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": obj.pointer(&spec_replicas(resource)).cloned().unwrap_or(json!(0))},
        "status": {"replicas": replicas, "selector": selector},
    })
}

pub async fn get(call: &Call) -> Result<Response, ApiError> {
    let obj = call
        .api
        .registry
        .get(call.stored(), call.namespace(), call.name())
        .await?;
    Ok(respond::json(200, &scale_of(call.target.resource, &obj)))
}

/// Sets `spec.replicas` from the Scale that `change` makes of the current one.
async fn set(
    call: &Call,
    change: impl Fn(Value) -> Result<Value, ApiError>,
) -> Result<Response, ApiError> {
    let opts = call.write_options()?;
    let updated = call
        .api
        .registry
        .read_modify_write(
            call.stored(),
            call.namespace(),
            call.name(),
            Part::Scale,
            &opts,
            |obj| {
                let scale = change(scale_of(call.target.resource, obj))?;
                let replicas = scale
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                if replicas < 0 {
                    return Err(ApiError::invalid(
                        "autoscaling",
                        "Scale",
                        call.name(),
                        vec![krust_api::status::Cause::invalid(
                            "spec.replicas",
                            &json!(replicas),
                            "must be greater than or equal to 0",
                        )],
                    ));
                }
                let mut obj = obj.clone();
                set_at(
                    &mut obj,
                    &spec_replicas(call.target.resource),
                    json!(replicas),
                );
                // The Scale's resourceVersion, if it names one, is the write's precondition.
                if let Some(rv) = scale.pointer("/metadata/resourceVersion") {
                    obj["metadata"]["resourceVersion"] = rv.clone();
                }
                Ok(obj)
            },
        )
        .await?;
    Ok(respond::json(
        200,
        &scale_of(call.target.resource, &updated.object),
    ))
}

pub async fn update(call: &Call, body: &[u8]) -> Result<Response, ApiError> {
    let given = negotiate::decode_object(&call.headers, body)?;
    set(call, |_| Ok(given.clone())).await
}

pub async fn patch(call: &Call, body: &[u8]) -> Result<Response, ApiError> {
    // A Scale has no lists, so strategic merge and merge patches are the same here.
    let ct = negotiate::content_type(&call.headers);
    set(call, |current| match ct.as_str() {
        "application/json-patch+json" => krust_api::patch::json_patch(current, body)
            .map_err(|e| ApiError::new(e.code, e.reason(), e.message)),
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => Ok(
            krust_api::patch::merge_patch(current, &negotiate::parse_json(body)?),
        ),
        other => Err(ApiError::unsupported_media_type(other)),
    })
    .await
}
