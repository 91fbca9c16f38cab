//! DELETE of one object or of a collection.

use super::Call;
use crate::registry::{DeleteOptions, Deleted, returns_deleted_object};
use crate::{negotiate, respond};
use axum::response::Response;
use bytes::Bytes;
use krust_api::status::ApiError;
use serde_json::{Value, json};

fn options(call: &Call, body: &[u8]) -> Result<DeleteOptions, ApiError> {
    let mut opts = DeleteOptions {
        grace_period_seconds: call.params.int("gracePeriodSeconds")?,
        propagation_policy: call.params.get("propagationPolicy").map(String::from),
        dry_run: call.params.dry_run()?,
        ..Default::default()
    };
    if call.params.flag("orphanDependents") {
        opts.propagation_policy = Some("Orphan".into());
    }
    if !body.iter().all(u8::is_ascii_whitespace) {
        opts.merge_body(&negotiate::decode_object(&call.headers, body)?)?;
    }
    Ok(opts)
}

pub async fn delete(call: &Call, body: Bytes) -> Result<Response, ApiError> {
    if call.target.subresource.is_some() {
        return Err(ApiError::method_not_allowed(
            "DELETE is not supported on subresources",
        ));
    }
    let opts = options(call, &body)?;
    let resource = call.stored();
    match call
        .api
        .registry
        .delete(resource, call.namespace(), call.name(), &opts)
        .await?
    {
        Deleted::Gone(o) if !returns_deleted_object(resource) => {
            let uid = krust_api::meta::meta_str(&o, "uid").unwrap_or_default();
            let body =
                krust_api::status::success(resource.group, resource.plural, call.name(), uid);
            Ok(respond::with_type(200, "application/json", body))
        }
        Deleted::Gone(o) | Deleted::Pending(o) => Ok(call.object(200, o)),
    }
}

pub async fn delete_collection(call: &Call, body: Bytes) -> Result<Response, ApiError> {
    let opts = options(call, &body)?;
    let q = super::list::query(call)?;
    let page = call.api.registry.list(call.stored(), &q).await?;
    let mut deleted = Vec::new();
    for obj in page.items {
        let ns = krust_api::meta::namespace(&obj).map(String::from);
        let name = krust_api::meta::name(&obj).to_string();
        match call
            .api
            .registry
            .delete(call.stored(), ns.as_deref(), &name, &opts)
            .await
        {
            Ok(Deleted::Gone(o) | Deleted::Pending(o)) => deleted.push(call.served(o)),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let resource = call.target.resource;
    let list = json!({"kind": resource.list_kind(), "apiVersion": resource.api_version(),
        "metadata": {"resourceVersion": call.api.registry.revision().to_string()},
        "items": Value::Array(deleted)});
    Ok(respond::json(200, &list))
}
