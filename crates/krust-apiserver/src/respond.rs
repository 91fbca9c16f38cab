//! Building HTTP responses: JSON bodies, `Status` errors, and their protobuf form for
//! clients that accept only protobuf (apimachinery's `endpoints/handlers/responsewriters`).

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use krust_api::protobuf;
use krust_api::status::ApiError;
use serde_json::Value;

/// A JSON response with `code`.
pub fn json(code: u16, body: &Value) -> Response {
    with_type(
        code,
        "application/json",
        serde_json::to_vec(body).unwrap_or_default(),
    )
}

/// A response with the given content type.
pub fn with_type(code: u16, content_type: &'static str, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// An error as a `v1 Status`.
pub fn error(e: &ApiError) -> Response {
    let mut r = with_type(e.code, "application/json", e.to_json());
    if let Some(s) = e.retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    r
}

/// Adds `Warning: 299 - "…"` headers (unknown fields with `fieldValidation=Warn`).
pub fn warn(mut r: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let text = format!("299 - {}", serde_json::Value::String(w.clone()));
        if let Ok(v) = HeaderValue::from_str(&text) {
            r.headers_mut().append("warning", v);
        }
    }
    r
}

/// What Kubernetes answers (406) when no accepted media type can carry the answer.
const NOT_ACCEPTABLE: &str =
    "only the following media types are accepted: application/json, application/yaml";

/// A JSON answer re-encoded as Kubernetes protobuf (magic + `runtime.Unknown` + object),
/// for a client that accepts nothing else. An answer with no protobuf form (a Table, a
/// kind the table does not know) becomes a 406 `NotAcceptable` Status, itself in protobuf.
/// Answers that are not JSON pass unchanged.
pub async fn protobuf(r: Response) -> Response {
    let is_json = r
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !is_json {
        return r;
    }
    let (mut parts, body) = r.into_parts();
    let encoded = axum::body::to_bytes(body, usize::MAX)
        .await
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|v| protobuf::encode(&v).ok());
    let Some(encoded) = encoded else {
        return not_acceptable();
    };
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(protobuf::MEDIA_TYPE),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(encoded))
}

/// 406 `NotAcceptable`, as a protobuf Status.
pub fn not_acceptable() -> Response {
    let status = ApiError::new(406, "NotAcceptable", NOT_ACCEPTABLE).to_status();
    match protobuf::encode(&status) {
        Ok(body) => with_type(406, protobuf::MEDIA_TYPE, body),
        Err(_) => json(406, &status),
    }
}
