//! The real node's answers to the kubelet API ([`crate::server::Streams`]): containers found
//! in the runtime by the CRI labels the kubelet gave them (pod namespace, name and container
//! name; the latest attempt is the current one, the one before it `--previous`), exec and
//! attach through the runtime, port-forward by a connection to the pod's `localhost` made
//! inside its network namespace.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use krust_runtime::{ContainerState, ContainerStatus, Exec};

use super::Shared;
use super::container::{LABEL_CONTAINER_NAME, LABEL_POD_NAME, LABEL_POD_NAMESPACE};
use crate::server::{Session, StreamError, Streams};

pub struct NodeStreams(pub Arc<Shared>);

impl NodeStreams {
    /// The pod's containers of that name, latest attempt first.
    async fn attempts(&self, ns: &str, pod: &str, container: &str) -> Vec<ContainerStatus> {
        let mut found: Vec<ContainerStatus> = self
            .0
            .runtime
            .list_containers()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|c| {
                let label = |k: &str| c.labels.get(k).map(String::as_str);
                label(LABEL_POD_NAMESPACE) == Some(ns)
                    && label(LABEL_POD_NAME) == Some(pod)
                    && label(LABEL_CONTAINER_NAME) == Some(container)
            })
            .collect();
        found.sort_by_key(|c| std::cmp::Reverse(c.attempt));
        found
    }

    async fn running(&self, ns: &str, pod: &str, container: &str) -> Result<String, StreamError> {
        match self.attempts(ns, pod, container).await.first() {
            Some(c) if matches!(c.state, ContainerState::Running { .. }) => Ok(c.id.clone()),
            Some(_) => Err(StreamError::bad_request(format!(
                "container {container} is not running in pod {pod}"
            ))),
            None => Err(not_found(ns, pod, container)),
        }
    }
}

fn not_found(ns: &str, pod: &str, container: &str) -> StreamError {
    StreamError::not_found(format!(
        "container {container:?} in pod \"{ns}/{pod}\" not found"
    ))
}

fn session(exec: Exec) -> Session {
    Session {
        stdin: exec.stdin,
        stdout: exec.stdout,
        stderr: exec.stderr,
        resize: exec.resize,
        exit: exec.exit,
    }
}

fn internal(e: krust_runtime::Error) -> StreamError {
    StreamError::internal(e.to_string())
}

#[async_trait]
impl Streams for NodeStreams {
    async fn log_path(
        &self,
        ns: &str,
        pod: &str,
        container: &str,
        previous: bool,
    ) -> Result<PathBuf, StreamError> {
        let attempts = self.attempts(ns, pod, container).await;
        let current = attempts
            .first()
            .ok_or_else(|| not_found(ns, pod, container))?;
        if !previous {
            return Ok(current.log_path.clone());
        }
        // Attempts before the last are removed, their logs kept beside the current one's.
        let path = current
            .attempt
            .checked_sub(1)
            .map(|n| current.log_path.with_file_name(format!("{n}.log")))
            .filter(|p| p.exists());
        path.ok_or_else(|| {
            StreamError::bad_request(format!(
                "previous terminated container {container:?} in pod {pod:?} not found"
            ))
        })
    }

    async fn container_running(&self, ns: &str, pod: &str, container: &str) -> bool {
        self.running(ns, pod, container).await.is_ok()
    }

    async fn exec(
        &self,
        ns: &str,
        pod: &str,
        container: &str,
        command: Vec<String>,
        tty: bool,
        stdin: bool,
    ) -> Result<Session, StreamError> {
        let id = self.running(ns, pod, container).await?;
        let exec = self.0.runtime.exec(&id, command, tty, stdin).await;
        exec.map(session).map_err(internal)
    }

    async fn attach(
        &self,
        ns: &str,
        pod: &str,
        container: &str,
        _tty: bool,
        stdin: bool,
    ) -> Result<Session, StreamError> {
        let id = self.running(ns, pod, container).await?;
        let attach = self.0.runtime.attach(&id, stdin).await;
        attach.map(session).map_err(internal)
    }

    async fn port_forward(
        &self,
        ns: &str,
        pod: &str,
        port: u16,
    ) -> Result<tokio::net::TcpStream, StreamError> {
        let sandboxes = self.0.runtime.list_sandboxes().await.map_err(internal)?;
        let sandbox = sandboxes
            .into_iter()
            .find(|s| s.spec.namespace == ns && s.spec.name == pod)
            .ok_or_else(|| StreamError::not_found(format!("pod \"{ns}/{pod}\" has no sandbox")))?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let stream = match &sandbox.netns {
            Some(netns) => krust_net::connect_in(netns, addr).await,
            None => std::net::TcpStream::connect(addr).map_err(|e| krust_net::Error::Io {
                what: format!("connecting to {addr}"),
                source: e,
            }),
        };
        let stream = stream.map_err(|e| {
            StreamError::internal(format!(
                "error forwarding port {port} to pod {}: {e}",
                sandbox.id
            ))
        })?;
        stream
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpStream::from_std(stream))
            .map_err(|e| StreamError::internal(e.to_string()))
    }

    async fn summary(&self) -> Result<crate::server::stats::Summary, StreamError> {
        Ok(super::stats::summary(&self.0).await)
    }
}
