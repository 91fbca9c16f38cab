//! gRPC probes, the prober's `grpcprobe`: the standard health service's
//! `grpc.health.v1.Health/Check` called over HTTP/2 without TLS (prior knowledge), the
//! request and the answer's `status` field encoded by hand (one string field, one enum
//! field); `SERVING` (1) passes.

use std::net::IpAddr;
use std::time::Duration;

const SERVING: u64 = 1;
const STATUS_NAMES: [&str; 4] = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

/// Calls Check for `service` at `host:port`.
pub async fn run(
    host: IpAddr,
    port: u16,
    service: &str,
    timeout: Duration,
) -> Result<String, String> {
    let target = std::net::SocketAddr::new(host, port);
    let client = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .timeout(timeout)
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .post(format!("http://{target}/grpc.health.v1.Health/Check"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("user-agent", "kube-probe/1.33")
        .body(frame(&request(service)))
        .send()
        .await
        .map_err(|e| {
            format!(
                "failed to connect service {:?} within {}s: {e}",
                target.to_string(),
                timeout.as_secs()
            )
        })?;
    let trailers_only = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if let Some(code) = trailers_only.filter(|c| c != "0") {
        return Err(format!("health rpc failed: grpc status {code}"));
    }
    let status = body
        .get(5..)
        .and_then(status_of)
        .ok_or("health rpc failed: no answer")?;
    if status == SERVING {
        Ok("service is serving".into())
    } else {
        let name = STATUS_NAMES
            .get(status as usize)
            .copied()
            .unwrap_or("UNKNOWN");
        Err(format!("service unhealthy (responded with {name:?})"))
    }
}

/// HealthCheckRequest: field 1, the service name.
fn request(service: &str) -> Vec<u8> {
    let mut m = Vec::new();
    if !service.is_empty() {
        m.push(0x0a);
        varint(service.len() as u64, &mut m);
        m.extend_from_slice(service.as_bytes());
    }
    m
}

/// A gRPC message frame: not compressed, its length, the message.
fn frame(message: &[u8]) -> Vec<u8> {
    let mut f = vec![0];
    f.extend_from_slice(&(message.len() as u32).to_be_bytes());
    f.extend_from_slice(message);
    f
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn read_varint(b: &[u8], i: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*i)?;
        *i += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

/// HealthCheckResponse's `status` (field 1, varint; 0 when absent), other fields skipped.
fn status_of(message: &[u8]) -> Option<u64> {
    let mut i = 0;
    let mut status = 0;
    while i < message.len() {
        let key = read_varint(message, &mut i)?;
        match key & 7 {
            0 => {
                let v = read_varint(message, &mut i)?;
                if key >> 3 == 1 {
                    status = v;
                }
            }
            1 => i += 8,
            2 => {
                let len = read_varint(message, &mut i)? as usize;
                i += len;
            }
            5 => i += 4,
            _ => return None,
        }
    }
    Some(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_name_the_service_and_answers_give_the_status() {
        assert_eq!(frame(&request("")), [0, 0, 0, 0, 0]);
        assert_eq!(frame(&request("db")), [0, 0, 0, 0, 4, 0x0a, 2, b'd', b'b']);
        assert_eq!(status_of(&[0x08, 0x01]), Some(SERVING));
        assert_eq!(status_of(&[0x08, 0x02]), Some(2));
        assert_eq!(status_of(&[]), Some(0));
        assert_eq!(status_of(&[0x12, 0x01, b'x', 0x08, 0x01]), Some(SERVING));
    }

    /// A health service on loopback: SERVING for the server, NOT_SERVING for a named
    /// service (a request with a body).
    async fn health_server() -> u16 {
        use http_body_util::{BodyExt, Full};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let service = hyper::service::service_fn(
                    |req: hyper::Request<hyper::body::Incoming>| async move {
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let status = if body.len() > 5 { 2 } else { 1 };
                        let answer = bytes::Bytes::from(vec![0, 0, 0, 0, 2, 0x08, status]);
                        hyper::Response::builder()
                            .header("content-type", "application/grpc")
                            .body(Full::new(answer))
                    },
                );
                let io = hyper_util::rt::TokioIo::new(stream);
                tokio::spawn(
                    hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(io, service),
                );
            }
        });
        port
    }

    #[tokio::test]
    async fn a_serving_health_service_passes_and_others_fail() {
        let port = health_server().await;
        let host: IpAddr = "127.0.0.1".parse().unwrap();
        let second = Duration::from_secs(1);
        assert!(run(host, port, "", second).await.is_ok());
        let err = run(host, port, "db", second).await.unwrap_err();
        assert_eq!(err, "service unhealthy (responded with \"NOT_SERVING\")");
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        let err = run(host, closed_port, "", second).await.unwrap_err();
        assert!(err.starts_with("failed to connect service"), "{err}");
    }
}
