//! Work done inside a network namespace, as CNI plugins do it (`ns.Do` of the CNI plugins'
//! `pkg/ns`): a new thread enters the namespace (setns is per thread), runs the work and
//! ends, so no thread of the async runtime ever changes namespace. Processes it spawns (`ip`,
//! `nft`) and the `/proc/sys/net` files it opens belong to that namespace.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

use crate::error::{Error, Result};

/// Runs `work` on a new thread inside the network namespace `netns` (this process's own when
/// `None`) and waits for it without blocking the async runtime.
pub(crate) async fn run_in<R, F>(netns: Option<PathBuf>, work: F) -> Result<R>
where
    R: Send + 'static,
    F: FnOnce() -> Result<R> + Send + 'static,
{
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("krust-netns".to_string())
        .spawn(move || {
            let outcome = match &netns {
                Some(path) => enter(path).and_then(|()| work()),
                None => work(),
            };
            let _ = done.send(outcome);
        })
        .map_err(Error::io("starting a thread for a network namespace"))?;
    result.await.map_err(|_| Error::Io {
        what: "work in a network namespace".to_string(),
        source: std::io::Error::other("the thread panicked"),
    })?
}

/// Moves the calling thread into the network namespace at `path`.
pub(crate) fn enter(path: &Path) -> Result<()> {
    let what = || format!("entering network namespace {}", path.display());
    let file = File::open(path).map_err(Error::io(what()))?;
    move_into_link_name_space(file.as_fd(), Some(LinkNameSpaceType::Network))
        .map_err(|e| Error::io(what())(e.into()))
}

/// The calling thread's network namespace, to come back to after entering another.
pub(crate) fn current() -> Result<File> {
    File::open("/proc/thread-self/ns/net")
        .map_err(Error::io("opening this thread's network namespace"))
}

/// Moves the calling thread back into `netns` (from [`current`]).
pub(crate) fn return_to(netns: &File) -> Result<()> {
    move_into_link_name_space(netns.as_fd(), Some(LinkNameSpaceType::Network))
        .map_err(|e| Error::io("returning to the host's network namespace")(e.into()))
}

/// A TCP connection to `addr` made inside the network namespace `netns` (the kubelet's
/// port-forward reaches a pod's `localhost` this way); the socket keeps to that namespace
/// whatever thread uses it later.
pub async fn connect_in(netns: &Path, addr: std::net::SocketAddr) -> Result<std::net::TcpStream> {
    let what = format!("connecting to {addr}");
    run_in(Some(netns.to_path_buf()), move || {
        std::net::TcpStream::connect(addr).map_err(Error::io(what))
    })
    .await
}
