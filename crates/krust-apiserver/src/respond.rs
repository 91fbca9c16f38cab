//! Building HTTP responses: JSON bodies and `Status` errors.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
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
