//! Service account issuer discovery (kube-apiserver's `pkg/serviceaccount` OIDC documents):
//! `/.well-known/openid-configuration` and `/openid/v1/jwks`, so that relying parties can
//! check service account tokens without asking the API server.

use serde_json::json;

use super::Tokens;

/// The path of the OpenID configuration.
pub const CONFIGURATION: &str = "/.well-known/openid-configuration";
/// The path of the key set.
pub const JWKS: &str = "/openid/v1/jwks";

/// The OpenID provider configuration, naming the issuer and where its keys are.
pub fn configuration(tokens: &Tokens) -> serde_json::Value {
    json!({
        "issuer": tokens.issuer,
        "jwks_uri": format!("{}{JWKS}", tokens.issuer),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    })
}
