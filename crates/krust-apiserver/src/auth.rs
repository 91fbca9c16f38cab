//! Authentication (client certificates, then bearer tokens: service account tokens and
//! bootstrap tokens) and the layer that refuses what `authz` does not allow.

use crate::api::Api;
use crate::authz::{self, Attributes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use krust_api::status::ApiError;
use rustls::pki_types::CertificateDer;
use std::collections::BTreeMap;
use std::sync::Arc;

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

/// Paths anyone may read (`/cacerts`: the CA bundle a joining node checks against its
/// token's hash, as k3s serves it).
fn is_open(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/livez" | "/readyz" | "/version" | "/version/" | "/cacerts"
    ) || path.starts_with("/healthz/")
        || path.starts_with("/livez/")
        || path.starts_with("/readyz/")
}

/// The bearer token of a request, if any.
fn bearer(req: &Request) -> Option<&str> {
    let value = req
        .headers()
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Authenticates (a client certificate, else a service account or bootstrap token) and refuses
/// unauthenticated requests (401) and those the user may not make (403).
pub async fn layer(State(api): State<Arc<Api>>, mut req: Request, next: Next) -> Response {
    let mut identity = req
        .extensions()
        .get::<Identity>()
        .cloned()
        .unwrap_or_else(Identity::anonymous);
    if !identity.is_authenticated()
        && let Some(token) = bearer(&req)
    {
        let who = match crate::tokens::authenticate(&api, token, None).await {
            Some(Ok(who)) => Some(who),
            Some(Err(e)) => {
                tracing::debug!(error = %e, "service account token refused");
                None
            }
            None => crate::bootstrap_token::authenticate(&api.registry, token).await,
        };
        match who {
            Some(who) => {
                identity = who;
                req.extensions_mut().insert(identity.clone());
            }
            None => return unauthorized(),
        }
    }
    if is_open(req.uri().path()) {
        return next.run(req).await;
    }
    if !identity.is_authenticated() {
        return unauthorized();
    }
    let attributes = Attributes::of(req.method(), req.uri().path(), req.uri().query());
    if !authz::allowed(&identity, &attributes) {
        let msg = authz::forbidden_message(&identity, &attributes);
        return crate::respond::error(&ApiError::new(403, "Forbidden", msg)).into_response();
    }
    next.run(req).await
}

fn unauthorized() -> Response {
    crate::respond::error(&ApiError::new(401, "Unauthorized", "Unauthorized")).into_response()
}
