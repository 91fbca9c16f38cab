//! The runtime's errors, shaped for the kubelet: a missing object, a container that cannot
//! run (CRI's `ContainerCannotRun` / `StartError`), anything else.

/// What a runtime call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No sandbox or container with this id.
    #[error("not found: {0}")]
    NotFound(String),
    /// The container's process could not be started (e.g. its executable was not found);
    /// the kubelet reports the message.
    #[error("cannot run: {0}")]
    CannotRun(String),
    /// Anything else, with what was being done.
    #[error("{0}")]
    Other(String),
}

/// The runtime's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error with what was being done when it happened.
    pub(crate) fn io(what: impl std::fmt::Display, e: impl std::fmt::Display) -> Error {
        Error::Other(format!("{what}: {e}"))
    }
}

/// Adds context to I/O-like errors.
pub(crate) trait Context<T> {
    fn context(self, what: impl std::fmt::Display) -> Result<T>;
}

impl<T, E: std::fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl std::fmt::Display) -> Result<T> {
        self.map_err(|e| Error::io(what, e))
    }
}
