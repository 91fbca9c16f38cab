//! Service account tokens, as kube-apiserver issues and checks them (`pkg/serviceaccount`,
//! `pkg/registry/core/serviceaccount/storage/token.go`): ES256 JWTs signed by the cluster's
//! service-account key ([`key`]), bound to a Pod, Node or Secret; the TokenRequest
//! (`serviceaccounts/<name>/token`), TokenReview and SelfSubjectReview APIs ([`request`],
//! [`review`]); bearer authentication ([`authenticate`]); and the OIDC discovery documents
//! ([`oidc`]).

mod authenticate;
mod claims;
mod jws;
mod key;
pub mod oidc;
mod request;
mod review;

use std::path::Path;

use anyhow::Result;

pub use authenticate::authenticate;
pub use claims::Claims;
pub use request::token_request;
pub use review::{self_subject_review, token_review};

/// The cluster's token issuer.
pub struct Tokens {
    key: key::SigningKey,
    /// `iss` of every token (kube-apiserver's `--service-account-issuer`).
    pub issuer: String,
    /// What the API server accepts as `aud` (`--api-audiences`, the issuer by default).
    pub audiences: Vec<String>,
}

/// The issuer krust's clusters name, as kubeadm and k3s default it.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

impl Tokens {
    /// The issuer with its key under `pki_dir` (made once).
    pub fn load_or_create(pki_dir: &Path) -> Result<Self> {
        Ok(Tokens {
            key: key::SigningKey::load_or_create(pki_dir)?,
            issuer: ISSUER.to_string(),
            audiences: vec![ISSUER.to_string()],
        })
    }

    /// A signed token carrying `claims`.
    pub fn sign(&self, claims: &Claims) -> String {
        jws::sign(&self.key, &serde_json::to_value(claims).unwrap_or_default())
    }

    /// The claims of a token this issuer signed for `audiences`, still valid at `now`
    /// (objects not checked), or why the token is refused. `None` for a token that is no
    /// JWT at all (another authenticator's).
    pub fn read(
        &self,
        token: &str,
        audiences: &[String],
        now: i64,
    ) -> Option<Result<Claims, String>> {
        if !jws::is_jwt(token) {
            return None;
        }
        Some(
            jws::verify(&self.key, token)
                .map_err(str::to_string)
                .and_then(|v| serde_json::from_value::<Claims>(v).map_err(|e| e.to_string()))
                .and_then(|c| c.check(&self.issuer, audiences, now).map(|()| c)),
        )
    }

    /// The public keys, as `/openid/v1/jwks` serves them.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({"keys": [self.key.jwk()]})
    }
}
