//! The error a workload controller's sync fails with (the ReplicaSet and Deployment
//! controllers share it), and an API error's message as Kubernetes prints it in Events and
//! conditions (a Go `StatusError`'s `Error()`).

/// A reconcile failure (requeued by the error policy).
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
pub struct Error(#[from] anyhow::Error);

impl From<kube::Error> for Error {
    fn from(e: kube::Error) -> Self {
        Self(e.into())
    }
}

impl Error {
    /// An optimistic-concurrency conflict: the cache was behind; retry soon.
    pub(crate) fn is_conflict(&self) -> bool {
        matches!(self.0.downcast_ref::<kube::Error>(), Some(kube::Error::Api(s)) if s.code == 409)
    }
}

/// The message of an API error, as Kubernetes prints it in Events and conditions.
pub(crate) fn error_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}
