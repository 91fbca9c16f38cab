//! Authentication (client certificates, then bearer service account tokens) and
//! authorization: `system:masters` may do all; every authenticated user may read the
//! discovery documents and ask who it is (Kubernetes' `system:discovery`,
//! `system:basic-user` and `system:service-account-issuer-discovery` roles).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::Api;
use krust_api::status::ApiError;
use rustls::pki_types::CertificateDer;

/// Who is asking.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// `system:anonymous` when no credential was presented.
    pub user: String,
    /// The user's UID, when its authenticator knows one (a service account's).
    pub uid: String,
    pub groups: Vec<String>,
    /// What the authenticator adds (`authentication.kubernetes.io/pod-name`, …).
    pub extra: BTreeMap<String, Vec<String>>,
}

impl Identity {
    /// No credentials.
    pub fn anonymous() -> Self {
        Identity {
            user: "system:anonymous".into(),
            groups: vec!["system:unauthenticated".into()],
            ..Identity::default()
        }
    }

    /// The user (CN) and groups (O) of a client certificate already verified by TLS.
    pub fn from_certificate(der: &CertificateDer<'_>) -> Self {
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
            return Self::anonymous();
        };
        let subject = cert.subject();
        let user = subject
            .iter_common_name()
            .next()
            .and_then(|c| c.as_str().ok())
            .unwrap_or("");
        let mut groups: Vec<String> = subject
            .iter_organization()
            .filter_map(|o| o.as_str().ok().map(String::from))
            .collect();
        groups.push("system:authenticated".into());
        Identity {
            user: user.to_string(),
            groups,
            ..Identity::default()
        }
    }

    /// Whether any credential was presented and verified.
    pub fn is_authenticated(&self) -> bool {
        self.groups.iter().any(|g| g == "system:authenticated")
    }
}

/// Paths anyone may read.
fn is_open(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/livez" | "/readyz" | "/version" | "/version/"
    ) || path.starts_with("/healthz/")
        || path.starts_with("/livez/")
        || path.starts_with("/readyz/")
}

/// What every authenticated user may do: read the discovery and OpenAPI documents
/// (`system:discovery`), ask who it is (`system:basic-user`), read the service account
/// issuer's documents (`system:service-account-issuer-discovery`).
fn is_everyones(method: &http::Method, path: &str) -> bool {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let discovery = matches!(
        segs.as_slice(),
        ["api"] | ["api", _] | ["apis"] | ["apis", _] | ["apis", _, _] | ["openapi", ..]
    );
    let read = method == http::Method::GET && discovery
        || path == crate::tokens::oidc::CONFIGURATION
        || path == crate::tokens::oidc::JWKS;
    read || method == http::Method::POST
        && path == "/apis/authentication.k8s.io/v1/selfsubjectreviews"
}

/// Kubernetes' words for a refused request: the verb, resource and namespace of a resource
/// request, or the path of another.
fn forbidden(identity: &Identity, req: &Request) -> ApiError {
    let user = &identity.user;
    let path = req.uri().path();
    let Ok(target) = crate::path::parse(path) else {
        let verb = req.method().as_str().to_lowercase();
        let msg = format!("forbidden: User {user:?} cannot {verb} path {path:?}");
        return ApiError::new(403, "Forbidden", msg);
    };
    let params = crate::negotiate::Params::parse(req.uri().query()).unwrap_or_default();
    let verb = crate::handlers::verb(req.method(), &target, &params);
    let r = target.resource;
    let resource = match target.subresource {
        Some(s) => format!("{}/{}", r.plural, s.name),
        None => r.plural.to_string(),
    };
    let scope = match &target.namespace {
        Some(ns) => format!("in the namespace {ns:?}"),
        None => "at the cluster scope".to_string(),
    };
    let about = match &target.name {
        Some(name) => format!("{resource} {name:?}"),
        None => resource.clone(),
    };
    let group = r.group;
    let msg = format!(
        "{about} is forbidden: User {user:?} cannot {verb} resource {resource:?} in API group {group:?} {scope}"
    );
    ApiError::new(403, "Forbidden", msg).about(
        group,
        r.plural,
        target.name.as_deref().unwrap_or(""),
    )
}

/// Authenticates a bearer token when the connection brought no certificate, then refuses
/// unauthenticated requests (401) and those the user may not make (403).
pub async fn layer(State(api): State<Arc<Api>>, mut req: Request, next: Next) -> Response {
    let mut identity = req
        .extensions()
        .get::<Identity>()
        .cloned()
        .unwrap_or_else(Identity::anonymous);
    if is_open(req.uri().path()) {
        return next.run(req).await;
    }
    let bearer = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    if let Some(token) = bearer.filter(|_| !identity.is_authenticated()) {
        match crate::tokens::authenticate(&api, &token, None).await {
            Some(Ok(who)) => {
                identity = who;
                req.extensions_mut().insert(identity.clone());
            }
            Some(Err(e)) => tracing::debug!(error = %e, "bearer token refused"),
            None => {}
        }
    }
    if !identity.is_authenticated() {
        return crate::respond::error(&ApiError::new(401, "Unauthorized", "Unauthorized"))
            .into_response();
    }
    let allowed = identity.groups.iter().any(|g| g == "system:masters")
        || is_everyones(req.method(), req.uri().path());
    if !allowed {
        return crate::respond::error(&forbidden(&identity, &req)).into_response();
    }
    next.run(req).await
}
