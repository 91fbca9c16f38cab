//! LIST: a `…List`, or a Table for `kubectl get`.

use super::Call;
use crate::negotiate;
use crate::registry::{ListPage, ListQuery};
use crate::respond;
use axum::response::Response;
use krust_api::selectors::{FieldSelector, LabelSelector};
use krust_api::status::ApiError;
use serde_json::{Value, json};

/// Builds the list query of a call (selectors checked against the resource).
pub fn query(call: &Call) -> Result<ListQuery, ApiError> {
    let bad = |e: krust_api::selectors::SelectorError| ApiError::bad_request(e.to_string());
    let labels = match call.params.get("labelSelector").filter(|s| !s.is_empty()) {
        Some(s) => Some(LabelSelector::parse(s).map_err(bad)?),
        None => None,
    };
    let fields = match call.params.get("fieldSelector").filter(|s| !s.is_empty()) {
        Some(s) => {
            let f = FieldSelector::parse(s).map_err(bad)?;
            f.validate(call.target.resource.group, call.target.resource.plural)
                .map_err(bad)?;
            Some(f)
        }
        None => None,
    };
    let exact = match (
        call.params.get("resourceVersionMatch"),
        call.params.get("resourceVersion"),
    ) {
        (Some("Exact"), Some(rv)) => Some(
            rv.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}")))?,
        ),
        _ => None,
    };
    Ok(ListQuery {
        namespace: call.target.namespace.clone(),
        labels,
        fields,
        limit: call.params.int("limit")?.unwrap_or(0).max(0) as usize,
        continue_token: call
            .params
            .get("continue")
            .filter(|s| !s.is_empty())
            .map(String::from),
        exact_revision: exact,
    })
}

pub async fn list(call: &Call) -> Result<Response, ApiError> {
    let q = query(call)?;
    let ListPage {
        items,
        revision,
        continue_token,
        remaining,
    } = call.api.registry.list(call.stored(), &q).await?;
    let items: Vec<Value> = items.into_iter().map(|o| call.served(o)).collect();
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if let Some(c) = continue_token {
        metadata["continue"] = json!(c);
    }
    if let Some(r) = remaining {
        metadata["remainingItemCount"] = json!(r);
    }
    let resource = call.target.resource;
    if negotiate::wants_table(&call.headers) {
        return Ok(respond::json(
            200,
            &crate::table::table(resource, &items, metadata, true),
        ));
    }
    let items: Vec<Value> = items
        .into_iter()
        .map(|mut o| {
            if let Some(m) = o.as_object_mut() {
                m.remove("apiVersion");
                m.remove("kind");
            }
            o
        })
        .collect();
    let list = json!({"kind": resource.list_kind(), "apiVersion": resource.api_version(), "metadata": metadata, "items": items});
    Ok(respond::json(200, &list))
}
