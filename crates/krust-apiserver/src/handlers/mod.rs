//! The REST handlers: one file per verb, all reached through `handle`.

mod create;
mod delete;
mod get;
pub(crate) mod kubelet_proxy;
mod list;
mod node_proxy;
mod patch;
mod scale;
mod update;
pub mod watch;

pub(crate) use node_proxy::kubelet_endpoint;

use crate::api::Api;
use crate::negotiate::{self, Params};
use crate::path::{self, Target};
use crate::respond;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderMap, Method};
use krust_api::convert;
use krust_api::resources::Resource;
use krust_api::status::ApiError;
use serde_json::Value;
use std::sync::Arc;

/// One resource request, parsed.
pub struct Call {
    pub api: Arc<Api>,
    pub target: Target,
    pub params: Params,
    pub headers: HeaderMap,
    /// Who is asking (set by the TLS layer, bootstrap token authentication or the
    /// in-process transport).
    pub identity: crate::auth::Identity,
}

impl Call {
    /// The resource whose objects are stored (differs for events.k8s.io).
    pub fn stored(&self) -> &'static Resource {
        convert::storage_resource(self.target.resource)
    }

    /// The namespace of the request.
    pub fn namespace(&self) -> Option<&str> {
        self.target.namespace.as_deref()
    }

    /// The object name of the request ("" for collections).
    pub fn name(&self) -> &str {
        self.target.name.as_deref().unwrap_or("")
    }

    /// A stored object as the requested version serves it.
    pub fn served(&self, obj: Value) -> Value {
        convert::from_storage(self.target.resource, obj)
    }

    /// The write options of the query.
    pub fn write_options(&self) -> Result<crate::registry::WriteOptions, ApiError> {
        Ok(crate::registry::WriteOptions {
            dry_run: self.params.dry_run()?,
            field_manager: Some(self.field_manager()),
        })
    }

    /// `fieldManager`, or the user agent's product name as Kubernetes derives it.
    pub fn field_manager(&self) -> String {
        if let Some(m) = self.params.get("fieldManager").filter(|m| !m.is_empty()) {
            return m.to_string();
        }
        let agent = self
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unknown");
        agent
            .split('/')
            .next()
            .unwrap_or("unknown")
            .chars()
            .take(128)
            .collect()
    }

    /// The answer to a write: its stored bytes when they do ([`Call::stored_answer`]), else
    /// as [`Call::object`].
    pub fn written(&self, code: u16, written: crate::registry::Written) -> Response {
        let stored = written.stored.as_ref();
        stored
            .and_then(|kv| self.stored_answer(code, kv))
            .unwrap_or_else(|| self.object(code, written.object))
    }

    /// An object answer made of its stored bytes (with `resourceVersion` spliced in, never
    /// parsed and encoded again), when plain JSON of the stored version is asked for. The
    /// bytes are those the watchers of the write send (made once, by the watch cache).
    pub fn stored_answer(&self, code: u16, kv: &krust_store::KeyValue) -> Option<Response> {
        let plain = convert::is_stored_as_served(self.target.resource)
            && !negotiate::wants_metadata(&self.headers)
            && !negotiate::wants_table(&self.headers);
        if !plain {
            return None;
        }
        let json = self.api.watch_cache.decode(kv).ok()?.json().clone();
        Some(respond::with_type(code, "application/json", json))
    }

    /// An object answer: JSON, metadata only, or a one-row Table, as asked for.
    pub fn object(&self, code: u16, obj: Value) -> Response {
        let obj = self.served(obj);
        if negotiate::wants_metadata(&self.headers) {
            return respond::json(code, &negotiate::partial(&obj));
        }
        if negotiate::wants_table(&self.headers) {
            let rv = obj
                .pointer("/metadata/resourceVersion")
                .cloned()
                .unwrap_or(Value::Null);
            let t = crate::table::table(
                self.target.resource,
                &[obj],
                serde_json::json!({"resourceVersion": rv}),
                true,
            );
            return respond::json(code, &t);
        }
        respond::json(code, &obj)
    }
}

/// The verb of a request, as Kubernetes names it in metrics and audit.
pub fn verb(method: &Method, target: &Target, params: &Params) -> &'static str {
    match (method.as_str(), target.name.is_some()) {
        ("GET", true) => "get",
        ("GET", false) if params.flag("watch") => "watch",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => "unknown",
    }
}

/// The authentication.k8s.io and authorization.k8s.io requests, answered without storing
/// anything.
enum Unstored {
    TokenRequest,
    TokenReview,
    SelfSubjectReview,
    AccessReview,
    RulesReview,
}

fn unstored(call: &Call, verb: &str) -> Option<Unstored> {
    let target = &call.target;
    let review = match (target.resource.plural, target.subresource.map(|s| s.name)) {
        ("serviceaccounts", Some("token")) => Unstored::TokenRequest,
        ("tokenreviews", None) => Unstored::TokenReview,
        ("selfsubjectreviews", None) => Unstored::SelfSubjectReview,
        (
            "subjectaccessreviews" | "localsubjectaccessreviews" | "selfsubjectaccessreviews",
            None,
        ) => Unstored::AccessReview,
        ("selfsubjectrulesreviews", None) => Unstored::RulesReview,
        _ => return None,
    };
    (verb == "create").then_some(review)
}

async fn read_body(body: Body) -> Result<bytes::Bytes, ApiError> {
    axum::body::to_bytes(body, negotiate::MAX_BODY)
        .await
        .map_err(|_| {
            ApiError::new(
                413,
                "RequestEntityTooLarge",
                format!("Request entity too large: limit is {}", negotiate::MAX_BODY),
            )
        })
}

/// Serves every request under `/api/v1` and `/apis/<group>/<version>`.
pub async fn handle(State(api): State<Arc<Api>>, req: Request) -> Response {
    let started = std::time::Instant::now();
    if let Ok(target) = path::parse(req.uri().path(), &api.registry.custom)
        && let Some(sub) = target.subresource
        && node_proxy::SUBRESOURCES.contains(&sub.name)
    {
        let verb = if req.method() == Method::POST {
            "create"
        } else {
            "get"
        };
        let resource = format!("{}/{}", target.resource.plural, sub.name);
        let response = node_proxy::serve(api.clone(), target, req).await;
        api.metrics.observe(
            verb,
            &resource,
            response.status().as_u16(),
            started.elapsed(),
        );
        return response;
    }
    let (parts, body) = req.into_parts();
    let parsed = path::parse(parts.uri.path(), &api.registry.custom)
        .and_then(|t| Ok((t, Params::parse(parts.uri.query())?)));
    let (target, params) = match parsed {
        Ok(p) => p,
        Err(e) => return respond::error(&e),
    };
    let verb = verb(&parts.method, &target, &params);
    let resource = match target.subresource {
        Some(s) => format!("{}/{}", target.resource.plural, s.name),
        None => target.resource.plural.to_string(),
    };
    let call = Call {
        api: api.clone(),
        target,
        params,
        identity: parts
            .extensions
            .get::<crate::auth::Identity>()
            .cloned()
            .unwrap_or_else(crate::auth::Identity::anonymous),
        headers: parts.headers,
    };
    let protobuf_only = negotiate::wants_protobuf_only(&call.headers);
    let result = async {
        if protobuf_only && verb == "watch" && negotiate::wants_table(&call.headers) {
            // A Table has no protobuf form; checked before the stream starts.
            return Ok(respond::not_acceptable());
        }
        if let Some(request) = unstored(&call, verb) {
            return match request {
                Unstored::TokenRequest => {
                    crate::tokens::token_request(&call, &read_body(body).await?).await
                }
                Unstored::TokenReview => {
                    crate::tokens::token_review(&call, &read_body(body).await?).await
                }
                Unstored::AccessReview => {
                    crate::authz::access_review(&call, &read_body(body).await?).await
                }
                Unstored::RulesReview => {
                    crate::authz::rules_review(&call, &read_body(body).await?).await
                }
                Unstored::SelfSubjectReview => {
                    let identity = parts.extensions.get::<crate::auth::Identity>();
                    Ok(crate::tokens::self_subject_review(
                        &identity.cloned().unwrap_or_default(),
                    ))
                }
            };
        }
        match verb {
            "get" => get::get(&call).await,
            "list" => list::list(&call).await,
            "watch" => watch::watch(&call).await,
            "create" => create::create(&call, read_body(body).await?).await,
            "update" => update::update(&call, read_body(body).await?).await,
            "patch" => patch::patch(&call, read_body(body).await?).await,
            "delete" => delete::delete(&call, read_body(body).await?).await,
            "deletecollection" => delete::delete_collection(&call, read_body(body).await?).await,
            _ => Err(ApiError::method_not_allowed(format!(
                "{} is not supported",
                parts.method
            ))),
        }
    }
    .await;
    let mut response = result.unwrap_or_else(|e| respond::error(&e));
    let writes = !matches!(verb, "get" | "list" | "watch");
    if writes
        && call.target.resource.builtin_kind() == "CustomResourceDefinition"
        && response.status().is_success()
        && let Err(e) = api.registry.reload_custom().await
    {
        tracing::warn!(error = %e, "custom resource definitions");
    }
    if protobuf_only {
        response = respond::protobuf(response).await;
    }
    let code = response.status().as_u16();
    if verb != "watch" {
        api.metrics
            .observe(verb, &resource, code, started.elapsed());
    }
    tracing::debug!(
        verb,
        resource,
        namespace = call.namespace(),
        name = call.name(),
        code,
        took_us = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}
