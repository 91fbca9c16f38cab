//! Probes and lifecycle-hook handlers, the kubelet's `pkg/kubelet/prober` runners and
//! `lifecycle/handlers.go`: one action (exec in the container, an HTTP GET or a TCP connect
//! to the pod's address, a sleep) run against one container. `exec.rs`, `http.rs`, `tcp.rs`
//! and `grpc.rs` run each kind; `schedule.rs` is the prober's worker (periods, delays and
//! thresholds) for one probe of one container.

pub mod exec;
pub mod grpc;
pub mod http;
pub mod schedule;
pub mod tcp;

use std::net::IpAddr;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Container, GRPCAction, HTTPGetAction, LifecycleHandler, Probe, TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use krust_runtime::Runtime;

/// One thing to run against a container.
#[derive(Clone, Debug)]
pub enum Action {
    Exec(Vec<String>),
    Http(HTTPGetAction),
    Tcp(TCPSocketAction),
    Grpc(GRPCAction),
    Sleep(i64),
    None,
}

impl Action {
    pub fn of_probe(p: &Probe) -> Action {
        if let Some(e) = &p.exec {
            Action::Exec(e.command.clone().unwrap_or_default())
        } else if let Some(h) = &p.http_get {
            Action::Http(h.clone())
        } else if let Some(t) = &p.tcp_socket {
            Action::Tcp(t.clone())
        } else if let Some(g) = &p.grpc {
            Action::Grpc(g.clone())
        } else {
            Action::None
        }
    }

    pub fn of_handler(h: &LifecycleHandler) -> Action {
        if let Some(e) = &h.exec {
            Action::Exec(e.command.clone().unwrap_or_default())
        } else if let Some(g) = &h.http_get {
            Action::Http(g.clone())
        } else if let Some(t) = &h.tcp_socket {
            Action::Tcp(t.clone())
        } else if let Some(s) = &h.sleep {
            Action::Sleep(s.seconds)
        } else {
            Action::None
        }
    }
}

/// The container an action runs against.
pub struct Target<'a> {
    pub runtime: &'a Runtime,
    /// The runtime's id of the running container.
    pub id: &'a str,
    pub container: &'a Container,
    /// The pod's address (the node's with host networking).
    pub pod_ip: Option<&'a str>,
}

/// How an action ended: success or failure, each with what it said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success(String),
    Failure(String),
}

/// Runs the action within `timeout`.
pub async fn run(action: &Action, target: &Target<'_>, timeout: Duration) -> Outcome {
    let result = match action {
        Action::Exec(command) => {
            match exec::run(target.runtime, target.id, command, timeout).await {
                Ok((0, out)) => Ok(out),
                Ok((code, out)) if out.is_empty() => Err(format!(
                    "command {:?} exited with {code}",
                    command.join(" ")
                )),
                Ok((_, out)) => Err(out),
                Err(e) => Err(e),
            }
        }
        Action::Http(h) => http_get(h, target, timeout).await,
        Action::Tcp(t) => match (
            host(t.host.as_deref(), target),
            port(&t.port, target.container),
        ) {
            (Ok(host), Ok(port)) => tcp::run(host, port, timeout).await,
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
        Action::Sleep(seconds) => {
            tokio::time::sleep(Duration::from_secs((*seconds).max(0) as u64)).await;
            Ok(String::new())
        }
        Action::Grpc(g) => match (host(None, target), u16::try_from(g.port)) {
            (Ok(host), Ok(port)) => {
                let service = g.service.as_deref().unwrap_or_default();
                grpc::run(host, port, service, timeout).await
            }
            (Err(e), _) => Err(e),
            (_, Err(_)) => Err(format!("invalid port number: {}", g.port)),
        },
        Action::None => Err("no action to run".into()),
    };
    match result {
        Ok(s) => Outcome::Success(s),
        Err(s) => Outcome::Failure(s),
    }
}

async fn http_get(
    h: &HTTPGetAction,
    target: &Target<'_>,
    timeout: Duration,
) -> Result<String, String> {
    let host = host(h.host.as_deref(), target)?;
    let port = port(&h.port, target.container)?;
    let headers: Vec<(String, String)> = h
        .http_headers
        .iter()
        .flatten()
        .map(|h| (h.name.clone(), h.value.clone()))
        .collect();
    let https = h
        .scheme
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("https"));
    http::run(&http::Get {
        https,
        host,
        port,
        path: h.path.as_deref().unwrap_or("/"),
        headers: &headers,
        timeout,
    })
    .await
}

/// The action's host: the one it names (an address) or the pod's.
fn host(named: Option<&str>, target: &Target<'_>) -> Result<IpAddr, String> {
    let text = named
        .filter(|h| !h.is_empty())
        .or(target.pod_ip)
        .ok_or("the pod has no address yet")?;
    text.parse()
        .map_err(|_| format!("host {text:?} is not an IP address"))
}

/// A port by number, or by the name of one of the container's ports.
pub fn port(port: &IntOrString, c: &Container) -> Result<u16, String> {
    let n = match port {
        IntOrString::Int(n) => i64::from(*n),
        IntOrString::String(s) => match s.parse::<i64>() {
            Ok(n) => n,
            Err(_) => c
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(s))
                .map(|p| i64::from(p.container_port))
                .ok_or_else(|| format!("couldn't find port: {s} in container {}", c.name))?,
        },
    };
    u16::try_from(n)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("invalid port number: {n}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ContainerPort;

    #[test]
    fn ports_are_numbers_or_the_names_of_container_ports() {
        let c = Container {
            name: "web".into(),
            ports: Some(vec![ContainerPort {
                name: Some("http".into()),
                container_port: 8080,
                ..Default::default()
            }]),
            ..Default::default()
        };
        assert_eq!(port(&IntOrString::Int(80), &c), Ok(80));
        assert_eq!(port(&IntOrString::String("http".into()), &c), Ok(8080));
        assert_eq!(port(&IntOrString::String("81".into()), &c), Ok(81));
        assert!(port(&IntOrString::String("metrics".into()), &c).is_err());
        assert!(port(&IntOrString::Int(0), &c).is_err());
    }
}
