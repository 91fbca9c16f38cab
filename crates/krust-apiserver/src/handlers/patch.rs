//! PATCH in its four content types: JSON patch, merge patch, strategic merge patch and
//! server-side apply (which creates the object when absent).

use super::Call;
use crate::registry::Part;
use crate::{negotiate, respond};
use axum::response::Response;
use bytes::Bytes;
use krust_api::decode::{FieldValidation, decode};
use krust_api::patch::{self, PatchError};
use krust_api::resources::Resource;
use krust_api::status::ApiError;
use krust_api::{convert, schema};
use serde_json::{Value, json};

const APPLY: &str = "application/apply-patch+yaml";

fn patch_error(e: PatchError) -> ApiError {
    ApiError::new(e.code, e.reason(), e.message)
}

/// A failed apply; conflicts become `FieldManagerConflict` causes, as in Kubernetes.
fn apply_error(e: patch::ApplyError) -> ApiError {
    let mut err = ApiError::new(e.code(), e.reason(), e.to_string());
    if let patch::ApplyError::Conflict { conflicts, .. } = e {
        err.causes = conflicts
            .into_iter()
            .map(|c| krust_api::status::Cause {
                reason: "FieldManagerConflict",
                message: format!("conflict with {}", c.manager),
                field: c.field,
            })
            .collect();
    }
    err
}

/// Applies a non-apply patch of content type `ct` to `current`.
pub fn apply_patch(
    ct: &str,
    current: Value,
    body: &[u8],
    resource: &Resource,
) -> Result<Value, ApiError> {
    match ct {
        "application/json-patch+json" => patch::json_patch(current, body).map_err(patch_error),
        "application/merge-patch+json" => {
            Ok(patch::merge_patch(current, &negotiate::parse_json(body)?))
        }
        "application/strategic-merge-patch+json" => {
            let definition =
                schema::definition_for(resource.group, resource.version, resource.kind)
                    .ok_or_else(|| unsupported_patch(resource))?;
            patch::strategic_merge_patch(current, &negotiate::parse_json(body)?, definition)
                .map_err(patch_error)
        }
        _ => Err(unsupported_patch(resource)),
    }
}

/// The 415 of a patch type `resource` does not take (custom resources take no strategic
/// merge patch), naming those it takes, as kube-apiserver does.
fn unsupported_patch(resource: &Resource) -> ApiError {
    let mut types = vec![
        "application/json-patch+json",
        "application/merge-patch+json",
        APPLY,
    ];
    if resource.custom.is_none() {
        types.push("application/strategic-merge-patch+json");
    }
    ApiError::new(
        415,
        "UnsupportedMediaType",
        format!(
            "the body of the request was in an unknown format - accepted media types include: {}",
            types.join(", ")
        ),
    )
}

pub async fn patch(call: &Call, body: Bytes) -> Result<Response, ApiError> {
    let sub = call.target.subresource.map(|s| s.name);
    match sub {
        Some("scale") => return super::scale::patch(call, &body).await,
        None | Some("status" | "ephemeralcontainers" | "approval") => {}
        Some(other) => {
            return Err(ApiError::method_not_allowed(format!(
                "PATCH is not supported on {other}"
            )));
        }
    }
    let ct = negotiate::content_type(&call.headers);
    let resource = call.target.resource;
    let mode = FieldValidation::parse(call.params.get("fieldValidation"))?;
    let mut opts = call.write_options()?;
    if ct == APPLY {
        opts.field_manager = None;
    }
    let part = match sub {
        Some("status") => Part::Status,
        Some("ephemeralcontainers") => Part::EphemeralContainers,
        Some("approval") => Part::Approval,
        _ => Part::Main,
    };
    let mut warnings = Vec::new();
    let finish = |mut obj: Value, warnings: &mut Vec<String>| -> Result<Value, ApiError> {
        krust_api::meta::drop_nulls(&mut obj);
        *warnings = decode(&mut obj, resource, mode)?;
        Ok(convert::to_storage(resource, obj))
    };
    let registry = &call.api.registry;
    let (ns, name) = (call.namespace(), call.name());
    let stored = if ct == APPLY {
        let manager = call
            .params
            .get("fieldManager")
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                ApiError::invalid(
                    "meta.k8s.io",
                    "PatchOptions",
                    "",
                    vec![krust_api::status::Cause::required(
                        "fieldManager",
                        "is required for apply patch",
                    )],
                )
            })?;
        let applied = negotiate::parse_yaml(&body)?;
        let force = call.params.flag("force");
        let definition =
            schema::definition_for(resource.group, resource.version, resource.kind).unwrap_or("");
        let now = krust_api::meta::now();
        match registry.get(call.stored(), ns, name).await {
            Err(e) if e.code == 404 && part == Part::Main => {
                let given = krust_api::meta::name(&applied);
                if !given.is_empty() && given != name {
                    return Err(ApiError::bad_request(format!(
                        "the name of the object ({given}) does not match the name on the URL ({name})"
                    )));
                }
                let mut obj = patch::apply(None, &applied, manager, force, definition, &now)
                    .map_err(apply_error)?;
                krust_api::meta::metadata_mut(&mut obj).insert("name".into(), json!(name));
                let obj = finish(obj, &mut warnings)?;
                let created = registry.create(call.stored(), ns, obj, &opts).await?;
                return Ok(respond::warn(call.written(201, created), &warnings));
            }
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        registry
            .read_modify_write(call.stored(), ns, name, part, &opts, |current| {
                let served = call.served(current.clone());
                let obj = patch::apply(Some(&served), &applied, manager, force, definition, &now)
                    .map_err(apply_error)?;
                finish(obj, &mut warnings)
            })
            .await?
    } else {
        registry
            .read_modify_write(call.stored(), ns, name, part, &opts, |current| {
                let obj = apply_patch(&ct, call.served(current.clone()), &body, resource)?;
                finish(obj, &mut warnings)
            })
            .await?
    };
    Ok(respond::warn(call.written(200, stored), &warnings))
}
