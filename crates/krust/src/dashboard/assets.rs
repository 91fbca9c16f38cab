//! The dashboard's page: plain HTML, one stylesheet and vanilla JavaScript modules, embedded
//! in the binary (no build step, nothing fetched from the internet). Its everyday flows follow
//! Headlamp's and the retired Kubernetes Dashboard's.

use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};

/// Every file: its path, content type and text.
const FILES: &[(&str, &str, &str)] = &[
    ("/", HTML, include_str!("assets/index.html")),
    (
        "/app.css",
        "text/css; charset=utf-8",
        include_str!("assets/app.css"),
    ),
    ("/app.js", JS, include_str!("assets/app.js")),
    ("/api.js", JS, include_str!("assets/api.js")),
    ("/yaml.js", JS, include_str!("assets/yaml.js")),
    ("/overview.js", JS, include_str!("assets/overview.js")),
    ("/list.js", JS, include_str!("assets/list.js")),
    ("/detail.js", JS, include_str!("assets/detail.js")),
    ("/logs.js", JS, include_str!("assets/logs.js")),
    ("/exec.js", JS, include_str!("assets/exec.js")),
    ("/term.js", JS, include_str!("assets/term.js")),
];

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// The file at `path` (`/index.html` is `/`), or 404.
pub fn get(path: &str) -> Response {
    let path = if path == "/index.html" { "/" } else { path };
    match FILES.iter().find(|(p, _, _)| *p == path) {
        Some((_, kind, text)) => (
            [
                (header::CONTENT_TYPE, *kind),
                (header::CACHE_CONTROL, "no-cache"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            *text,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}
