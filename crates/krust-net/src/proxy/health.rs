//! Service health checks, as kube-proxy serves them (`pkg/proxy/healthcheck/service_health.go`):
//! a LoadBalancer Service with `externalTrafficPolicy: Local` has a `healthCheckNodePort`, on
//! which every node answers `GET` (any path) with how many of the Service's ready endpoints
//! it holds: 200 when it holds one and its proxy is healthy, 503 otherwise, so that an
//! external load balancer sends only to nodes that can serve without a hop. [`checks`] is the
//! pure part; [`HealthServer`] listens on the ports, in the host's network namespace.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

use super::model;
use crate::error::{Error, Result};
use crate::netns::run_in;

/// One Service's health check on this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    pub namespace: String,
    pub name: String,
    /// Its ready endpoints on this node (address and port, over all of its ports).
    pub local_endpoints: usize,
}

impl HealthCheck {
    /// The answer to a request: the status code and kube-proxy's JSON body.
    pub fn answer(&self, proxy_healthy: bool) -> (u16, String) {
        let code = match self.local_endpoints != 0 && proxy_healthy {
            true => 200,
            false => 503,
        };
        let body = format!(
            "{{\n\t\"service\": {{\n\t\t\"namespace\": {:?},\n\t\t\"name\": {:?}\n\t}},\n\t\"localEndpoints\": {},\n\t\"serviceProxyHealthy\": {proxy_healthy}\n}}",
            self.namespace, self.name, self.local_endpoints
        );
        (code, body)
    }
}

/// The health checks of `services` on the node named `node`, by health check node port.
pub fn checks<'a>(
    services: impl IntoIterator<Item = &'a Service>,
    slices: &[&EndpointSlice],
    node: &str,
) -> BTreeMap<u16, HealthCheck> {
    let mut out = BTreeMap::new();
    for svc in services {
        let ports = model::service_ports(svc);
        let Some(port) = ports.iter().find_map(|p| p.health_check_node_port) else {
            continue;
        };
        let mut local: BTreeSet<(Ipv4Addr, u16)> = BTreeSet::new();
        for p in &ports {
            let eps = p.endpoints(slices.iter().copied(), node);
            local.extend(
                eps.iter()
                    .filter(|e| e.local && e.ready)
                    .map(|e| (e.ip, e.port)),
            );
        }
        out.insert(
            port,
            HealthCheck {
                namespace: ports[0].namespace.clone(),
                name: ports[0].service.clone(),
                local_endpoints: local.len(),
            },
        );
    }
    out
}

/// What a port answers, shared with its listener.
#[derive(Debug)]
struct Serving {
    check: HealthCheck,
    proxy_healthy: bool,
}

/// The listeners of a node's health checks: one per health check node port, on every
/// address of the host (kube-proxy's default `nodePortAddresses`). Dropping it closes them.
#[derive(Debug, Default)]
pub struct HealthServer {
    host_netns: Option<PathBuf>,
    open: HashMap<u16, (Arc<Mutex<Serving>>, JoinHandle<()>)>,
}

impl HealthServer {
    /// A server with nothing open yet, listening in `host_netns` (`None`: this process's).
    pub fn new(host_netns: Option<PathBuf>) -> HealthServer {
        HealthServer {
            host_netns,
            open: HashMap::new(),
        }
    }

    /// The ports open now.
    pub fn ports(&self) -> BTreeSet<u16> {
        self.open.keys().copied().collect()
    }

    /// Opens the ports of `checks` not open yet, closes those no longer named and updates
    /// the answers of the rest; the checks whose port could not be opened come back with
    /// the error (the next sync tries them again).
    pub async fn sync(
        &mut self,
        checks: BTreeMap<u16, HealthCheck>,
        proxy_healthy: bool,
    ) -> Vec<(HealthCheck, u16, Error)> {
        self.open.retain(|port, (_, task)| {
            let keep = checks.contains_key(port);
            if !keep {
                task.abort();
            }
            keep
        });
        let mut failed = Vec::new();
        for (port, check) in checks {
            if let Some((serving, _)) = self.open.get(&port) {
                let mut s = serving.lock().unwrap_or_else(|e| e.into_inner());
                s.check = check;
                s.proxy_healthy = proxy_healthy;
                continue;
            }
            match self.listen(port).await {
                Ok(listener) => {
                    let serving = Arc::new(Mutex::new(Serving {
                        check,
                        proxy_healthy,
                    }));
                    let task = tokio::spawn(serve(listener, serving.clone()));
                    self.open.insert(port, (serving, task));
                }
                Err(e) => failed.push((check, port, e)),
            }
        }
        failed
    }

    /// Closes every port.
    pub fn stop(&mut self) {
        for (_, (_, task)) in self.open.drain() {
            task.abort();
        }
    }

    async fn listen(&self, port: u16) -> Result<tokio::net::TcpListener> {
        let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
        let what = format!("listening on {addr}");
        let listener = run_in(self.host_netns.clone(), move || {
            let l = TcpListener::bind(addr).map_err(Error::io(what.clone()))?;
            l.set_nonblocking(true).map_err(Error::io(what))?;
            Ok(l)
        })
        .await?;
        tokio::net::TcpListener::from_std(listener).map_err(Error::io("a health check listener"))
    }
}

impl Drop for HealthServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Answers every connection to `listener` with the current answer, once, and closes it.
async fn serve(listener: tokio::net::TcpListener, serving: Arc<Mutex<Serving>>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let serving = serving.clone();
        tokio::spawn(async move {
            // The request's head, up to its end or 8 KiB; what it asks does not matter.
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while head.len() < 8192 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut buf))
                    .await
                {
                    Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
                    _ => return,
                }
            }
            let (code, body) = {
                let s = serving.lock().unwrap_or_else(|e| e.into_inner());
                s.check.answer(s.proxy_healthy)
            };
            let reason = if code == 200 {
                "OK"
            } else {
                "Service Unavailable"
            };
            let response = format!(
                "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lb(name: &str, policy: &str) -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.43.0.20",
                "externalTrafficPolicy": policy, "healthCheckNodePort": 31000,
                "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81}]},
        }))
        .unwrap()
    }

    fn slice(name: &str) -> EndpointSlice {
        serde_json::from_value(json!({
            "metadata": {"name": format!("{name}-x"), "namespace": "default",
                "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4",
            "ports": [{"name": "a", "port": 8080, "protocol": "TCP"},
                      {"name": "b", "port": 8081, "protocol": "TCP"}],
            "endpoints": [
                {"addresses": ["10.42.0.5"], "nodeName": "n1", "conditions": {"ready": true}},
                {"addresses": ["10.42.0.6"], "nodeName": "n1", "conditions": {"ready": false, "terminating": true}},
                {"addresses": ["10.42.1.5"], "nodeName": "n2", "conditions": {"ready": true}},
            ],
        }))
        .unwrap()
    }

    #[test]
    fn a_local_load_balancer_counts_its_ready_endpoints_on_this_node() {
        let (svc, s) = (lb("web", "Local"), slice("web"));
        let got = checks([&svc], &[&s], "n1");
        let check = &got[&31000];
        // One ready local pod serving two ports: two endpoints, as kube-proxy counts them.
        assert_eq!(check.local_endpoints, 2);
        assert_eq!(check.answer(true).0, 200);
        assert!(checks([&svc], &[&s], "n3")[&31000].answer(true).0 == 503);
        assert!(checks([&lb("web", "Cluster")], &[&s], "n1").is_empty());
    }

    #[test]
    fn the_answer_is_kube_proxys_json() {
        let check = HealthCheck {
            namespace: "default".into(),
            name: "web".into(),
            local_endpoints: 0,
        };
        let (code, body) = check.answer(true);
        assert_eq!(code, 503);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v,
            json!({"service": {"namespace": "default", "name": "web"},
                "localEndpoints": 0, "serviceProxyHealthy": true})
        );
    }

    #[tokio::test]
    async fn a_port_answers_while_its_check_is_named_and_closes_after() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut server = HealthServer::new(None);
        let check = HealthCheck {
            namespace: "default".into(),
            name: "web".into(),
            local_endpoints: 1,
        };
        let failed = server
            .sync(BTreeMap::from([(port, check.clone())]), true)
            .await;
        assert!(failed.is_empty());
        let get = || async {
            let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .await?;
            let mut out = String::new();
            s.read_to_string(&mut out).await?;
            std::io::Result::Ok(out)
        };
        let answer = get().await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("\"localEndpoints\": 1"), "{answer}");
        let none = HealthCheck {
            local_endpoints: 0,
            ..check
        };
        server.sync(BTreeMap::from([(port, none)]), true).await;
        assert!(get().await.unwrap().starts_with("HTTP/1.1 503 "));
        server.sync(BTreeMap::new(), true).await;
        assert!(server.ports().is_empty());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(get().await.is_err(), "the port is still open");
    }
}
