//! The errors of the pod network.

use krust_api::cidr::Cidr;

/// The result of a pod network operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong setting up, attaching or detaching.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `ip` or `nft` failed; `stderr` is what it said.
    #[error("{program} failed ({what}): {stderr}")]
    Command {
        /// `ip` or `nft`.
        program: &'static str,
        /// What it was asked to do.
        what: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// A file, a namespace or a process could not be used.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The system's error.
        source: std::io::Error,
    },
    /// A pod's veth end did not come up in time (forwarding on the bridge, or operationally
    /// up in the pod).
    #[error("link {0} did not come up in time")]
    LinkNotUp(String),
    /// Every address of the node's range is taken.
    #[error("no free address left in {0}")]
    Exhausted(Cidr),
    /// Another pod already has that hostPort.
    #[error("hostPort {port}/{protocol} is already taken by pod {owner}")]
    HostPortTaken {
        /// The node's port.
        port: u16,
        /// `tcp` or `udp`.
        protocol: &'static str,
        /// The uid of the pod that has it.
        owner: String,
    },
    /// The configuration cannot work.
    #[error("invalid pod network configuration: {0}")]
    Config(String),
    /// The allocation file cannot be read.
    #[error("pod address state {path}: {message}")]
    State {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

impl Error {
    /// An I/O error while doing `what`.
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }
}
