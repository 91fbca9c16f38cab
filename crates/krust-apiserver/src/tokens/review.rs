//! `tokenreviews` and `selfsubjectreviews` (authentication.k8s.io/v1), as kube-apiserver's
//! `pkg/registry/authentication`: a TokenReview says whether a bearer token is valid and
//! whose it is (what a webhook or a kubelet asks); a SelfSubjectReview tells the caller who
//! the server takes it for (`kubectl auth whoami`). Neither is stored.

use krust_api::status::{ApiError, Cause};
use serde_json::{Value, json};

use crate::auth::Identity;
use crate::handlers::Call;
use crate::respond;

const API_VERSION: &str = "authentication.k8s.io/v1";

/// The reviewed token's status: authenticated with its user, or the error.
pub async fn token_review(call: &Call, body: &[u8]) -> Result<axum::response::Response, ApiError> {
    let mut review = crate::negotiate::decode_object(&call.headers, body)?;
    let token = review
        .pointer("/spec/token")
        .and_then(Value::as_str)
        .unwrap_or("");
    if token.is_empty() {
        let cause = Cause::required("spec.token", "");
        return Err(ApiError::invalid(
            "authentication.k8s.io",
            "TokenReview",
            "",
            vec![cause],
        ));
    }
    let asked: Option<Vec<String>> = review
        .pointer("/spec/audiences")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        });
    let result = super::authenticate(&call.api, token, asked.as_deref()).await;
    let audiences = asked.unwrap_or_else(|| call.api.tokens.audiences.clone());
    review["status"] = match result {
        Some(Ok(identity)) => json!({
            "authenticated": true,
            "user": user_info(&identity),
            "audiences": audiences,
        }),
        Some(Err(error)) => json!({"user": {}, "error": error}),
        None => json!({"user": {}, "error": "[invalid bearer token, token lookup failed]"}),
    };
    review["apiVersion"] = json!(API_VERSION);
    review["kind"] = json!("TokenReview");
    review["metadata"] = json!({"creationTimestamp": Value::Null});
    Ok(respond::json(201, &review))
}

/// Who the caller is.
pub fn self_subject_review(identity: &Identity) -> axum::response::Response {
    let review = json!({
        "apiVersion": API_VERSION,
        "kind": "SelfSubjectReview",
        "metadata": {"creationTimestamp": krust_api::meta::now()},
        "status": {"userInfo": user_info(identity)},
    });
    respond::json(201, &review)
}

/// `UserInfo`: empty fields left out, as Go's `omitempty` does.
fn user_info(identity: &Identity) -> Value {
    let mut info = json!({"username": identity.user, "groups": identity.groups});
    if !identity.uid.is_empty() {
        info["uid"] = json!(identity.uid);
    }
    if !identity.extra.is_empty() {
        info["extra"] = json!(identity.extra);
    }
    info
}
