//! The API half of the dashboard: `/api`, `/apis`, `/version` and `/openapi` forwarded to the
//! cluster's API server with the admin's credentials, as `kubectl proxy` does. Responses
//! stream through as they come (watches, followed logs). Like kubectl proxy's
//! `--accept-hosts`, only requests addressed to loopback names are served, and requests a
//! page of another site makes (a changing method from a foreign `Origin`, or any with
//! `Sec-Fetch-Site: cross-site`, a WebSocket from a foreign `Origin`) are refused, so no web
//! page can borrow the credentials. A WebSocket upgrade (exec) is passed on and, once both
//! sides switched, tunnelled byte for byte.

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderName, Method, StatusCode, header};

/// The largest request body forwarded (the API server's own limit is 3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;

/// Whether `path` is the API's (proxied) rather than the page's.
pub fn is_api(path: &str) -> bool {
    ["/api", "/apis", "/version", "/openapi"]
        .iter()
        .any(|p| path == *p || path.strip_prefix(p).is_some_and(|r| r.starts_with('/')))
}

/// The request headers passed on to the server (never the browser's cookies or its own
/// credentials).
const REQUEST_HEADERS: [HeaderName; 3] = [header::ACCEPT, header::CONTENT_TYPE, header::USER_AGENT];

/// The headers of a WebSocket handshake, passed on both ways (the browser's key goes to the
/// server, so the server's accept value is the one the browser expects).
const UPGRADE_HEADERS: [HeaderName; 6] = [
    header::CONNECTION,
    header::UPGRADE,
    header::SEC_WEBSOCKET_KEY,
    header::SEC_WEBSOCKET_VERSION,
    header::SEC_WEBSOCKET_PROTOCOL,
    header::SEC_WEBSOCKET_ACCEPT,
];

/// Why a request must not be forwarded, if it must not.
pub fn refused(method: &Method, headers: &HeaderMap) -> Option<&'static str> {
    let value = |name: &HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(host) = value(&header::HOST) else {
        return Some("no Host header");
    };
    let hostname = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    if !matches!(hostname, "127.0.0.1" | "localhost" | "[::1]") {
        return Some("the host is not a loopback name");
    }
    if value(&HeaderName::from_static("sec-fetch-site")) == Some("cross-site") {
        return Some("a request from another site");
    }
    // A WebSocket (exec) is a GET a foreign page may open too: its Origin is checked.
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        && !headers.contains_key(header::UPGRADE);
    if let Some(origin) = value(&header::ORIGIN)
        && !safe
        && origin != format!("http://{host}")
    {
        return Some("a request from another origin");
    }
    None
}

/// Forwards `request` to the API server and streams its answer back; a WebSocket upgrade
/// (exec) becomes a byte tunnel between the browser and the server once both switched.
pub async fn forward(client: &kube::Client, mut request: Request) -> Response {
    let upgrade = request
        .headers()
        .contains_key(header::UPGRADE)
        .then(|| hyper::upgrade::on(&mut request));
    let (parts, body) = request.into_parts();
    if let Some(why) = refused(&parts.method, &parts.headers) {
        return status(StatusCode::FORBIDDEN, "Forbidden", why);
    }
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(e) => {
            return status(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                &e.to_string(),
            );
        }
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut upstream = http::Request::builder().method(parts.method).uri(path);
    let passed = if upgrade.is_some() {
        &[&REQUEST_HEADERS[..], &UPGRADE_HEADERS[..]].concat()
    } else {
        &REQUEST_HEADERS[..]
    };
    for name in passed {
        if let Some(value) = parts.headers.get(name) {
            upstream = upstream.header(name, value);
        }
    }
    let upstream = match upstream.body(kube::client::Body::from(body.to_vec())) {
        Ok(r) => r,
        Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", &e.to_string()),
    };
    match client.send(upstream).await {
        Ok(mut answer) if answer.status() == StatusCode::SWITCHING_PROTOCOLS => {
            let Some(browser) = upgrade else {
                return status(StatusCode::BAD_GATEWAY, "BadGateway", "an unasked upgrade");
            };
            let server = hyper::upgrade::on(&mut answer);
            tokio::spawn(async move {
                if let (Ok(browser), Ok(server)) = (browser.await, server.await) {
                    let mut browser = hyper_util::rt::TokioIo::new(browser);
                    let mut server = hyper_util::rt::TokioIo::new(server);
                    let _ = tokio::io::copy_bidirectional(&mut browser, &mut server).await;
                }
            });
            let mut switched = Response::new(Body::empty());
            *switched.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            for name in &UPGRADE_HEADERS {
                if let Some(value) = answer.headers().get(name) {
                    switched.headers_mut().insert(name, value.clone());
                }
            }
            switched
        }
        Ok(answer) => {
            let (mut parts, body) = answer.into_parts();
            for name in [header::CONNECTION, header::TRANSFER_ENCODING] {
                parts.headers.remove(name);
            }
            Response::from_parts(parts, Body::new(body))
        }
        Err(e) => status(
            StatusCode::BAD_GATEWAY,
            "ServiceUnavailable",
            &format!("the API server did not answer: {e}"),
        ),
    }
}

/// A Kubernetes `Status` failure, as the API server writes them.
pub fn status(code: StatusCode, reason: &str, message: &str) -> Response {
    let mut body = failure(message);
    body["reason"] = reason.into();
    body["code"] = code.as_u16().into();
    (code, axum::Json(body)).into_response()
}

/// The body of a `Status` failure saying `message`.
pub fn failure(message: &str) -> serde_json::Value {
    serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (HeaderName::from_static(k), v.parse().expect("value")))
            .collect()
    }

    #[test]
    fn the_api_paths_are_proxied_and_the_page_is_not() {
        assert!(is_api("/api/v1/pods"));
        assert!(is_api("/apis"));
        assert!(is_api("/version"));
        assert!(!is_api("/app.js"));
        assert!(!is_api("/apiary"));
        assert!(!is_api("/"));
    }

    #[test]
    fn a_request_to_loopback_from_the_page_is_forwarded() {
        let h = headers(&[
            ("host", "127.0.0.1:8001"),
            ("origin", "http://127.0.0.1:8001"),
        ]);
        assert_eq!(refused(&Method::PATCH, &h), None);
        assert_eq!(
            refused(&Method::GET, &headers(&[("host", "localhost")])),
            None
        );
    }

    #[test]
    fn a_rebound_host_name_is_refused() {
        let h = headers(&[("host", "evil.example:8001")]);
        assert!(refused(&Method::GET, &h).is_some());
    }

    #[test]
    fn a_change_from_another_origin_is_refused() {
        let h = headers(&[
            ("host", "127.0.0.1:8001"),
            ("origin", "https://evil.example"),
        ]);
        assert!(refused(&Method::DELETE, &h).is_some());
        let h = headers(&[("host", "127.0.0.1:8001"), ("sec-fetch-site", "cross-site")]);
        assert!(refused(&Method::GET, &h).is_some());
        let h = headers(&[
            ("host", "127.0.0.1:8001"),
            ("upgrade", "websocket"),
            ("origin", "https://evil.example"),
        ]);
        assert!(refused(&Method::GET, &h).is_some());
    }
}
