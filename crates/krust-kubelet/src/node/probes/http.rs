//! HTTP GET probes and hooks, the prober's `httpprobe`: a GET of `scheme://host:port/path`
//! with the probe's headers (and the kubelet's `User-Agent: kube-probe/…`, `Accept: */*`
//! unless the probe sets them), certificates not checked, no proxy; a status from 200 to
//! 399 passes.

use std::net::IpAddr;
use std::time::Duration;

/// What to get.
pub struct Get<'a> {
    pub https: bool,
    pub host: IpAddr,
    pub port: u16,
    pub path: &'a str,
    pub headers: &'a [(String, String)],
    pub timeout: Duration,
}

/// The most of the body a probe keeps.
const MAX_BODY: usize = 10 * 1024;

/// Gets the URL; `Ok(body)` for a 2xx or 3xx status, else what went wrong.
pub async fn run(get: &Get<'_>) -> Result<String, String> {
    let url = url(get);
    let client = reqwest::Client::builder()
        .no_proxy()
        .danger_accept_invalid_certs(true)
        .timeout(get.timeout)
        .build()
        .map_err(|e| e.to_string())?;
    let mut request = client
        .get(&url)
        .header("User-Agent", "kube-probe/1.33")
        .header("Accept", "*/*");
    for (name, value) in get.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("Get {url:?}: {}", error_chain(&e)))?;
    let status = response.status().as_u16();
    let mut body = response
        .bytes()
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    body.truncate(MAX_BODY);
    if (200..400).contains(&status) {
        Ok(String::from_utf8_lossy(&body).into_owned())
    } else {
        Err(format!("HTTP probe failed with statuscode: {status}"))
    }
}

/// The URL of a GET; an IPv6 host in brackets, the path with its leading slash.
pub fn url(get: &Get<'_>) -> String {
    let scheme = if get.https { "https" } else { "http" };
    let host = match get.host {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    };
    let slash = if get.path.starts_with('/') { "" } else { "/" };
    format!("{scheme}://{host}:{}{slash}{}", get.port, get.path)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Get<'_> {
        Get {
            https: false,
            host: "10.42.0.5".parse().unwrap(),
            port: 8080,
            path,
            headers: &[],
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn urls_have_the_pod_address_port_and_a_leading_slash() {
        assert_eq!(url(&get("healthz")), "http://10.42.0.5:8080/healthz");
        assert_eq!(url(&get("/a?b=c")), "http://10.42.0.5:8080/a?b=c");
        let mut v6 = get("");
        v6.host = "fd00::1".parse().unwrap();
        v6.https = true;
        assert_eq!(url(&v6), "https://[fd00::1]:8080/");
    }

    /// Answers each request with `status` when it carries `X-Probe: krust`, else 500;
    /// returns the port.
    async fn server(status: u16) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = vec![0; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).to_lowercase();
                let ok = request.contains("x-probe: krust")
                    && request.contains("user-agent: kube-probe/");
                let code = if ok { status } else { 500 };
                let answer = format!(
                    "HTTP/1.1 {code} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
                let _ = s.write_all(answer.as_bytes()).await;
            }
        });
        port
    }

    #[tokio::test]
    async fn statuses_from_200_to_399_pass_with_the_probes_headers() {
        let headers = [("X-Probe".to_string(), "krust".to_string())];
        for (status, pass) in [(200, true), (302, true), (404, false)] {
            let port = server(status).await;
            let mut g = get("/healthz");
            g.host = "127.0.0.1".parse().unwrap();
            g.port = port;
            g.headers = &headers;
            let result = run(&g).await;
            assert_eq!(result.is_ok(), pass, "{status}: {result:?}");
            if !pass {
                assert_eq!(
                    result.unwrap_err(),
                    "HTTP probe failed with statuscode: 404"
                );
            }
        }
    }

    /// An HTTPS server answering 200 with a certificate of a CA nobody trusts; its port.
    async fn https_server() -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().unwrap();
        let pki = krust_apiserver::Pki::load_or_create(dir.path(), &[], &[]).unwrap();
        let (cert, key) = pki
            .kubelet_serving("probed", &["127.0.0.1".parse().unwrap()])
            .unwrap();
        let config = crate::server::tls::server_config(&pki.ca_cert, &cert, &key).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let Ok(mut s) = acceptor.accept(tcp).await else {
                    continue;
                };
                let mut buf = vec![0; 4096];
                let _ = s.read(&mut buf).await;
                let answer =
                    "HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nsecure";
                let _ = s.write_all(answer.as_bytes()).await;
                let _ = s.shutdown().await;
            }
        });
        port
    }

    #[tokio::test]
    async fn an_https_probe_passes_without_checking_the_certificate() {
        let port = https_server().await;
        let mut g = get("/healthz");
        g.https = true;
        g.host = "127.0.0.1".parse().unwrap();
        g.port = port;
        assert_eq!(run(&g).await.as_deref(), Ok("secure"));
        g.https = false;
        assert!(run(&g).await.is_err(), "plain HTTP to a TLS port");
    }
}
