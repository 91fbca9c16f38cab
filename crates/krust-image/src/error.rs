//! The crate's one error type.

use std::io;

/// What can go wrong storing, loading or unpacking an image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file system error.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A JSON document (manifest, index, config, archive manifest) did not parse.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Content did not hash to the digest it was announced with.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The announced digest.
        expected: String,
        /// The digest of the content.
        actual: String,
    },
    /// A string that is not a `sha256:<64 hex>` digest.
    #[error("invalid digest {0:?}")]
    InvalidDigest(String),
    /// A string that is not an image reference.
    #[error("invalid reference {0:?}: {1}")]
    InvalidReference(String, &'static str),
    /// An archive that is neither a docker save nor an OCI image layout, or is inconsistent.
    #[error("invalid archive: {0}")]
    Archive(String),
    /// A layer entry whose path would leave the layer directory.
    #[error("unsafe path in layer: {0:?}")]
    UnsafePath(String),
    /// A registry request failed (connection, TLS, body).
    #[error("registry: {0}")]
    Http(#[from] reqwest::Error),
    /// A registry answered with an error status or an unusable answer.
    #[error("registry: {0}")]
    Registry(String),
    /// No image, blob or platform by that name.
    #[error("not found: {0}")]
    NotFound(String),
    /// A build, push or save failed; the message is docker's, shown as is.
    #[error("{0}")]
    Build(String),
    /// A RUN step exited non-zero: docker's message, and the code (docker build exits with it).
    #[error("{0}")]
    RunFailed(String, i32),
}

/// An I/O error in Go's words (`no such file or directory`), as docker's messages carry them.
pub fn io_words(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// The crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
