//! What the streaming server serves from: the kubelet's view of its containers (the part of
//! the kubelet's `pkg/kubelet/cri/streaming` runtime interface and its log lookup that the
//! HTTP endpoints need), implemented by the real kubelet and by test doubles.

use async_trait::async_trait;
use serde_json::json;
use std::path::PathBuf;
use tokio::io::{AsyncRead, AsyncWrite};

/// The container side of the streaming endpoints.
#[async_trait]
pub trait Streams: Send + Sync + 'static {
    /// The CRI log file of a container (current or previous attempt).
    async fn log_path(
        &self,
        ns: &str,
        pod: &str,
        container: &str,
        previous: bool,
    ) -> Result<PathBuf, StreamError>;

    /// Whether the container still runs: a followed log ends once it stopped (the kubelet
    /// follows only a running container). Running unless told otherwise.
    async fn container_running(&self, _ns: &str, _pod: &str, _container: &str) -> bool {
        true
    }

    /// Runs `command` in the container.
    async fn exec(
        &self,
        ns: &str,
        pod: &str,
        container: &str,
        command: Vec<String>,
        tty: bool,
        stdin: bool,
    ) -> Result<Session, StreamError>;

    /// Attaches to the container's main process.
    async fn attach(
        &self,
        ns: &str,
        pod: &str,
        container: &str,
        tty: bool,
        stdin: bool,
    ) -> Result<Session, StreamError>;

    /// A connection to `port` inside the pod's network namespace.
    async fn port_forward(
        &self,
        ns: &str,
        pod: &str,
        port: u16,
    ) -> Result<tokio::net::TcpStream, StreamError>;
    /// The node's and its pods' resource use (`/stats/summary`, `/metrics/resource`); a
    /// kubelet that does not measure answers 404.
    async fn summary(&self) -> Result<super::stats::Summary, StreamError> {
        Err(StreamError::not_found("this kubelet serves no stats"))
    }
}

/// A running exec or attach: its standard streams, terminal resizes, and its exit code.
pub struct Session {
    /// Its standard input (when asked for).
    pub stdin: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    /// Its standard output (with a tty: the terminal).
    pub stdout: Option<Box<dyn AsyncRead + Send + Unpin>>,
    /// Its standard error (none with a tty).
    pub stderr: Option<Box<dyn AsyncRead + Send + Unpin>>,
    /// Terminal size changes, (width, height), with a tty.
    pub resize: Option<tokio::sync::mpsc::Sender<(u16, u16)>>,
    /// Resolves to the exit code once the process ended.
    pub exit: futures::future::BoxFuture<'static, i32>,
}

/// A refusal, answered as a `Status` with `code` before any upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamError {
    /// The HTTP status code (404, 400, 500, …).
    pub code: u16,
    /// The `Status` reason (`NotFound`, `BadRequest`, `InternalError`, …).
    pub reason: String,
    /// The message.
    pub message: String,
}

impl StreamError {
    /// 404 NotFound.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "NotFound", message)
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 500 InternalError.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// Any code and reason.
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        StreamError {
            code,
            reason: reason.into(),
            message: message.into(),
        }
    }

    /// The `Status` object.
    pub fn status(&self) -> serde_json::Value {
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        })
    }
}

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StreamError {}

/// The channel-3 `Status` of an ended exec: `Success`, or `NonZeroExitCode` with the code as
/// the `ExitCode` cause (as the kubelet's remotecommand server writes it).
pub fn exit_status(code: i32) -> serde_json::Value {
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    json!({
        "metadata": {}, "status": "Failure",
        "message": format!("command terminated with non-zero exit code: exit status {code}"),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
}
