//! The kubelet's HTTPS side: its serving certificate and client certificates verified against
//! the cluster CA (who may do what is `access.rs`'s).

use anyhow::{Context, Result};
use rustls::pki_types::CertificateDer;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The rustls configuration of the kubelet's server: `cert_pem`/`key_pem` served, client
/// certificates checked against `ca_pem` (a request without one is answered 401).
pub fn server_config(
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(ca_pem)? {
        roots.add(c)?;
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .allow_unauthenticated()
    .build()?;
    let key = rustls_pemfile::private_key(&mut key_pem.as_bytes())?.context("no kubelet key")?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs(cert_pem)?, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn certs(pem: &str) -> Result<Vec<CertificateDer<'static>>> {
    Ok(rustls_pemfile::certs(&mut pem.as_bytes()).collect::<Result<_, _>>()?)
}

/// Who is calling: the user (CN) and groups (O) of a verified client certificate, or the
/// user a TokenReview names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    pub user: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

impl Caller {
    /// From the first certificate of the TLS peer chain (already verified by rustls).
    pub fn from_certificate(der: &CertificateDer<'_>) -> Option<Self> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let subject = cert.subject();
        let user = subject
            .iter_common_name()
            .next()?
            .as_str()
            .ok()?
            .to_string();
        let groups = subject
            .iter_organization()
            .filter_map(|o| o.as_str().ok().map(String::from))
            .collect();
        Some(Caller {
            user,
            groups,
            ..Caller::default()
        })
    }
}
