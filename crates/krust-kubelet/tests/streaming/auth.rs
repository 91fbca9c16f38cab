//! Who the kubelet serves: callers the cluster CA vouches for, and only some of them.

use crate::cluster::*;
use k8s_openapi::api::core::v1::Node;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A raw HTTPS request to the kubelet with a client certificate (or none): the status line.
async fn kubelet_status_line(c: &Cluster, client: Option<(String, String)>) -> String {
    let pki = pki(c.server.dir.path());
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pki.ca_cert.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                rustls_pemfile::certs(&mut cert.as_bytes())
                    .map(Result::unwrap)
                    .collect(),
                rustls_pemfile::private_key(&mut key.as_bytes())
                    .unwrap()
                    .unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let nodes: kube::Api<Node> = kube::Api::all(c.server.client.clone());
    let node = nodes.get(NODE).await.unwrap();
    let port = node
        .status
        .unwrap()
        .daemon_endpoints
        .unwrap()
        .kubelet_endpoint
        .unwrap()
        .port;
    let tcp = TcpStream::connect(("127.0.0.1", port as u16))
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    tls.write_all(
        format!(
            "GET /containerLogs/default/{POD}/main HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = String::new();
    let _ = tls.read_to_string(&mut answer).await;
    answer.lines().next().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubelet_serves_only_callers_the_cluster_ca_vouches_for() {
    let c = Cluster::start().await;
    let pki = pki(c.server.dir.path());
    let admin = Some((pki.admin_cert.clone(), pki.admin_key.clone()));
    assert_eq!(kubelet_status_line(&c, admin).await, "HTTP/1.1 200 OK");
    let node = Some(
        pki.client(&format!("system:node:{NODE}"), Some("system:nodes"))
            .unwrap(),
    );
    assert_eq!(kubelet_status_line(&c, node).await, "HTTP/1.1 200 OK");
    let other = Some(pki.client("alice", Some("developers")).unwrap());
    assert_eq!(
        kubelet_status_line(&c, other).await,
        "HTTP/1.1 403 Forbidden"
    );
    assert_eq!(
        kubelet_status_line(&c, None).await,
        "HTTP/1.1 401 Unauthorized"
    );
}
