//! The `scale` subresource of deployments and replicasets: an `autoscaling/v1 Scale` view
//! of `spec.replicas`.

use super::Call;
use crate::registry::Part;
use crate::{negotiate, respond};
use axum::response::Response;
use krust_api::status::ApiError;
use serde_json::{Value, json};

fn scale_of(obj: &Value) -> Value {
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
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {
            "replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": krust_api::selectors::label_selector_string(obj.pointer("/spec/selector").unwrap_or(&Value::Null)),
        },
    })
}

pub async fn get(call: &Call) -> Result<Response, ApiError> {
    let obj = call
        .api
        .registry
        .get(call.stored(), call.namespace(), call.name())
        .await?;
    Ok(respond::json(200, &scale_of(&obj)))
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
                let scale = change(scale_of(obj))?;
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
                obj["spec"]["replicas"] = json!(replicas);
                // The Scale's resourceVersion, if it names one, is the write's precondition.
                if let Some(rv) = scale.pointer("/metadata/resourceVersion") {
                    obj["metadata"]["resourceVersion"] = rv.clone();
                }
                Ok(obj)
            },
        )
        .await?;
    Ok(respond::json(200, &scale_of(&updated.object)))
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
