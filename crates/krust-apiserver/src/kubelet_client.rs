//! The API server's client of kubelets (kube-apiserver's `--kubelet-client-certificate` and
//! its kubelet connection info): HTTPS to a node's kubelet endpoint with the
//! `kube-apiserver-kubelet-client` certificate, the kubelet's certificate verified against
//! the cluster CA (its IP address must be among the certificate's names), HTTP/1.1 so that
//! upgrades can pass.

use crate::pki::Pki;
use anyhow::{Context, Result};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long dialing a kubelet may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(10);

/// Dials kubelets.
#[derive(Clone)]
pub struct KubeletClient {
    tls: Arc<rustls::ClientConfig>,
}

impl KubeletClient {
    /// A client with the PKI's kubelet client certificate, trusting the cluster CA.
    pub fn new(pki: &Pki) -> Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for c in certs(&pki.ca_cert)? {
            roots.add(c)?;
        }
        let key = rustls_pemfile::private_key(&mut pki.kubelet_client_key.as_bytes())?
            .context("no kubelet client key")?;
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_client_auth_cert(certs(&pki.kubelet_client_cert)?, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(KubeletClient {
            tls: Arc::new(config),
        })
    }

    /// Sends `req` (no body) to the kubelet at `addr` and returns its answer; the connection
    /// lives as long as the answer's body or upgrade.
    pub async fn send(
        &self,
        addr: SocketAddr,
        req: http::Request<Empty<bytes::Bytes>>,
    ) -> Result<http::Response<Incoming>> {
        let tcp = tokio::time::timeout(DIAL_TIMEOUT, tokio::net::TcpStream::connect(addr))
            .await
            .with_context(|| format!("dial tcp {addr}: i/o timeout"))?
            .with_context(|| format!("dial tcp {addr}"))?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::IpAddress(addr.ip().into());
        let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .with_context(|| format!("TLS handshake with {addr}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "kubelet connection ended");
            }
        });
        Ok(sender.send_request(req).await?)
    }
}

fn certs(pem: &str) -> Result<Vec<CertificateDer<'static>>> {
    Ok(rustls_pemfile::certs(&mut pem.as_bytes()).collect::<Result<_, _>>()?)
}
