//! Authentication (client certificates) and authorization (`system:masters` may do all).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use krust_api::status::ApiError;
use rustls::pki_types::CertificateDer;

/// Who is asking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// `system:anonymous` when no credential was presented.
    pub user: String,
    pub groups: Vec<String>,
}

impl Identity {
    /// No credentials.
    pub fn anonymous() -> Self {
        Identity {
            user: "system:anonymous".into(),
            groups: vec!["system:unauthenticated".into()],
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

/// Refuses unauthenticated requests (401) and those the user may not make (403).
pub async fn layer(req: Request, next: Next) -> Response {
    let identity = req
        .extensions()
        .get::<Identity>()
        .cloned()
        .unwrap_or_else(Identity::anonymous);
    if is_open(req.uri().path()) {
        return next.run(req).await;
    }
    if !identity.is_authenticated() {
        return crate::respond::error(&ApiError::new(401, "Unauthorized", "Unauthorized"))
            .into_response();
    }
    if !identity.groups.iter().any(|g| g == "system:masters") {
        let msg = format!(
            "{} is forbidden: User {:?} cannot {} resource at the cluster scope",
            req.uri().path(),
            identity.user,
            req.method().as_str().to_lowercase()
        );
        return crate::respond::error(&ApiError::new(403, "Forbidden", msg)).into_response();
    }
    next.run(req).await
}
