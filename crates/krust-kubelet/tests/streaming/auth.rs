//! Who the kubelet serves: callers with a certificate of the cluster CA or a token the API
//! server vouches for, and only those the API server allows (SubjectAccessReviews).

use crate::cluster::*;
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{Node, ServiceAccount};
use kube::api::PostParams;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A raw HTTPS request to the kubelet with a client certificate (or none): the status line.
async fn kubelet_status_line(c: &Cluster, client: Option<(String, String)>) -> String {
    let answer = kubelet_answer(c, client, None).await;
    answer.lines().next().unwrap_or("").to_string()
}

/// A raw HTTPS request for a container's log with a client certificate or a bearer token:
/// the whole answer.
async fn kubelet_answer(
    c: &Cluster,
    client: Option<(String, String)>,
    token: Option<&str>,
) -> String {
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
    let authorization = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    tls.write_all(
        format!(
            "GET /containerLogs/default/{POD}/main HTTP/1.1\r\nHost: x\r\n{authorization}Connection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = String::new();
    let _ = tls.read_to_string(&mut answer).await;
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubelet_serves_only_callers_the_cluster_ca_vouches_for() {
    let c = Cluster::start().await;
    let pki = pki(c.server.dir.path());
    let admin = Some((pki.admin_cert.clone(), pki.admin_key.clone()));
    assert_eq!(kubelet_status_line(&c, admin).await, "HTTP/1.1 200 OK");
    let api = Some((
        pki.kubelet_client_cert.clone(),
        pki.kubelet_client_key.clone(),
    ));
    assert_eq!(kubelet_status_line(&c, api).await, "HTTP/1.1 200 OK");
    // As in Kubernetes, a node's own credentials do not reach `nodes/proxy`.
    let node = Some(
        pki.client(&format!("system:node:{NODE}"), Some("system:nodes"))
            .unwrap(),
    );
    let refused = kubelet_answer(&c, node, None).await;
    assert!(refused.starts_with("HTTP/1.1 403 Forbidden"), "{refused}");
    assert!(
        refused.ends_with(&format!("\r\n\r\nForbidden (user=system:node:{NODE}, verb=get, resource=nodes, subresource(s)=[proxy])\n")),
        "{refused}"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bearer_token_is_reviewed_and_its_user_authorized_by_the_api_server() {
    let c = Cluster::start().await;
    let accounts: kube::Api<ServiceAccount> = c.server.api("default");
    let account = serde_json::from_value(serde_json::json!({"metadata": {"name": "reader"}}));
    accounts
        .create(&PostParams::default(), &account.unwrap())
        .await
        .unwrap();
    let token = accounts
        .create_token_request("reader", &PostParams::default(), &TokenRequest::default())
        .await
        .unwrap()
        .status
        .unwrap()
        .token;
    for _ in 0..2 {
        // The second answer comes from the kubelet's cache of reviews.
        let answer = kubelet_answer(&c, None, Some(&token)).await;
        assert!(answer.starts_with("HTTP/1.1 403 Forbidden"), "{answer}");
        assert!(
            answer.ends_with("Forbidden (user=system:serviceaccount:default:reader, verb=get, resource=nodes, subresource(s)=[proxy])\n"),
            "{answer}"
        );
    }
    let bad = kubelet_answer(&c, None, Some("not-a-token")).await;
    assert!(bad.starts_with("HTTP/1.1 401 Unauthorized"), "{bad}");
}
