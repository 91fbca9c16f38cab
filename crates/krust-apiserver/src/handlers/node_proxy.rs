//! `pods/log`, `pods/exec`, `pods/attach` and `pods/portforward`: proxied to the kubelet of
//! the pod's node (kube-apiserver's pod `LogLocation`/`streamLocation`/`PortForwardLocation`
//! and its `UpgradeAwareHandler`): the container checked against the pod, the node's kubelet
//! endpoint read from its status, the request sent on, and either the answer streamed back
//! or, for an upgrade, the kubelet's 101 relayed and then bytes copied both ways.

use crate::api::Api;
use crate::path::Target;
use crate::respond;
use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, Method};
use http_body_util::Empty;
use krust_api::status::ApiError;
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The subresources served by proxying to a kubelet.
pub const SUBRESOURCES: &[&str] = &["log", "exec", "attach", "portforward"];

/// Headers an upgrade needs carried to the kubelet and back.
const UPGRADE_HEADERS: &[&str] = &[
    "connection",
    "upgrade",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-accept",
    "sec-websocket-extensions",
    "x-stream-protocol-version",
];

/// Serves one of [`SUBRESOURCES`].
pub async fn serve(api: Arc<Api>, target: Target, req: http::Request<Body>) -> Response {
    proxy(api, target, req)
        .await
        .unwrap_or_else(|e| respond::error(&e))
}

async fn proxy(
    api: Arc<Api>,
    target: Target,
    mut req: http::Request<Body>,
) -> Result<Response, ApiError> {
    let sub = target.subresource.map(|s| s.name).unwrap_or("");
    let (ns, name) = (
        target.namespace.clone().unwrap_or_default(),
        target.name.clone().unwrap_or_default(),
    );
    let allowed = match sub {
        "log" => req.method() == Method::GET,
        _ => req.method() == Method::GET || req.method() == Method::POST,
    };
    if !allowed {
        return Err(ApiError::method_not_allowed(format!(
            "{} is not supported on {sub}",
            req.method()
        )));
    }
    let pod = api.registry.get(target.resource, Some(&ns), &name).await?;
    let query = req.uri().query().unwrap_or("").to_string();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&query).unwrap_or_default();
    let param = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let container = if sub == "portforward" {
        String::new()
    } else {
        container(&pod, &name, param("container"))?
    };
    let node = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let no_logs_yet = || {
        if node.is_empty() {
            ApiError::bad_request(format!(
                "container {container:?} in pod {name:?} is waiting to start: pod is not scheduled to a node"
            ))
        } else {
            ApiError::bad_request(format!(
                "container {container:?} in pod {name:?}: node {node:?} does not serve logs yet"
            ))
        }
    };
    if node.is_empty() {
        return Err(if sub == "log" {
            no_logs_yet()
        } else {
            ApiError::bad_request(format!("pod {name} does not have a host assigned"))
        });
    }
    let Some(addr) = kubelet_endpoint(&api, &node).await? else {
        return Err(if sub == "log" {
            no_logs_yet()
        } else {
            ApiError::new(
                503,
                "ServiceUnavailable",
                format!("node {node:?} has no kubelet endpoint"),
            )
        });
    };
    let kept: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "container")
        .cloned()
        .collect();
    let kept = serde_urlencoded::to_string(&kept).unwrap_or_default();
    let path = match sub {
        "log" => format!("/containerLogs/{ns}/{name}/{container}"),
        "exec" => format!("/exec/{ns}/{name}/{container}"),
        "attach" => format!("/attach/{ns}/{name}/{container}"),
        _ => format!("/portForward/{ns}/{name}"),
    };
    let uri = if kept.is_empty() {
        path
    } else {
        format!("{path}?{kept}")
    };
    let upgrade = req.headers().contains_key(http::header::UPGRADE);
    let mut out = http::Request::builder()
        .method(req.method().clone())
        .uri(uri)
        .header(http::header::HOST, addr.to_string());
    if upgrade {
        out = copy_headers(out, req.headers());
    }
    let out = out
        .body(Empty::new())
        .map_err(|e| ApiError::internal(format!("building the kubelet request: {e}")))?;
    let mut answer = match api.kubelets.send(addr, out).await {
        Ok(a) => a,
        Err(e) if sub == "log" => {
            tracing::debug!(error = %format!("{e:#}"), "kubelet unreachable");
            return Err(no_logs_yet());
        }
        Err(e) => {
            return Err(ApiError::new(
                503,
                "ServiceUnavailable",
                format!("error dialing backend: {e:#}"),
            ));
        }
    };
    if upgrade && answer.status() == http::StatusCode::SWITCHING_PROTOCOLS {
        let mut response = Response::builder().status(101);
        for h in UPGRADE_HEADERS {
            for v in answer.headers().get_all(*h) {
                response = response.header(*h, v);
            }
        }
        let from_kubelet = hyper::upgrade::on(&mut answer);
        let from_client = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            let (Ok(k), Ok(c)) = (from_kubelet.await, from_client.await) else {
                tracing::debug!("an upgrade through to the kubelet failed");
                return;
            };
            let mut k = hyper_util::rt::TokioIo::new(k);
            let mut c = hyper_util::rt::TokioIo::new(c);
            let _ = tokio::io::copy_bidirectional(&mut c, &mut k).await;
        });
        return Ok(response.body(Body::empty()).expect("a valid response"));
    }
    let (parts, body) = answer.into_parts();
    let mut response = Response::builder().status(parts.status);
    if let Some(t) = parts.headers.get(http::header::CONTENT_TYPE) {
        response = response.header(http::header::CONTENT_TYPE, t);
    }
    Ok(response.body(Body::new(body)).expect("a valid response"))
}

fn copy_headers(mut out: http::request::Builder, headers: &HeaderMap) -> http::request::Builder {
    for h in UPGRADE_HEADERS {
        for v in headers.get_all(*h) {
            out = out.header(*h, v);
        }
    }
    out
}

/// The container a request names, checked against the pod (kube-apiserver's messages).
fn container(pod: &Value, pod_name: &str, asked: Option<String>) -> Result<String, ApiError> {
    let names = |list: &str| -> Vec<String> {
        pod.pointer(&format!("/spec/{list}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("name").and_then(Value::as_str).map(String::from))
            .collect()
    };
    let containers = names("containers");
    let Some(asked) = asked.filter(|c| !c.is_empty()) else {
        return match containers.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                containers.join(" ")
            ))),
        };
    };
    let known = containers
        .iter()
        .chain(names("initContainers").iter())
        .chain(names("ephemeralContainers").iter())
        .any(|c| *c == asked);
    if !known {
        return Err(ApiError::bad_request(format!(
            "container {asked} is not valid for pod {pod_name}"
        )));
    }
    Ok(asked)
}

/// The node's kubelet address: its `InternalIP` (else its first address) and
/// `daemonEndpoints.kubeletEndpoint.Port`; `None` when either is missing or the port is 0.
pub(crate) async fn kubelet_endpoint(
    api: &Api,
    node: &str,
) -> Result<Option<SocketAddr>, ApiError> {
    let nodes = krust_api::resources::find("", "v1", "nodes")
        .ok_or_else(|| ApiError::internal("nodes are not served"))?;
    let node = api.registry.get(nodes, None, node).await?;
    let port = node
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let addresses: Vec<&Value> = node
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let ip = addresses
        .iter()
        .find(|a| a.get("type").and_then(Value::as_str) == Some("InternalIP"))
        .or(addresses.first())
        .and_then(|a| a.get("address").and_then(Value::as_str))
        .and_then(|a| a.parse::<IpAddr>().ok());
    Ok(match (ip, port) {
        (Some(ip), p) if p > 0 && p <= u16::MAX as u64 => Some(SocketAddr::new(ip, p as u16)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_container_is_checked_against_the_pod_as_kube_apiserver_does() {
        let one = json!({"spec": {"containers": [{"name": "main"}], "initContainers": [{"name": "init"}]}});
        assert_eq!(container(&one, "web", None).unwrap(), "main");
        assert_eq!(container(&one, "web", Some("init".into())).unwrap(), "init");
        let e = container(&one, "web", Some("nope".into())).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (400, "container nope is not valid for pod web")
        );
        let two = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        let e = container(&two, "web", None).unwrap_err();
        assert_eq!(
            e.message,
            "a container name must be specified for pod web, choose one of: [a b]"
        );
    }
}
