//! The kubelet's HTTPS side: its serving certificate, client certificates verified against
//! the cluster CA, and who may use the API (the kubelet's webhook authorizer's answers for
//! `nodes/proxy`, `nodes/log` and `nodes/stats`, without the round trip: the API server's
//! kubelet client, `system:masters`, and the node itself).

use anyhow::{Context, Result};
use rustls::pki_types::CertificateDer;
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

/// The user (CN) and groups (O) of a verified client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user: String,
    pub groups: Vec<String>,
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
        Some(Caller { user, groups })
    }

    /// Whether this caller may use the node's API (`node` is this kubelet's node name).
    pub fn allowed(&self, node: &str) -> bool {
        self.user == "kube-apiserver-kubelet-client"
            || self.groups.iter().any(|g| g == "system:masters")
            || (self.user == format!("system:node:{node}")
                && self.groups.iter().any(|g| g == "system:nodes"))
    }
}

/// The resource a path is authorized as (the kubelet's `GetRequestAttributes`).
pub fn subresource(path: &str) -> &'static str {
    if path.starts_with("/stats") {
        "stats"
    } else if path.starts_with("/logs") {
        "log"
    } else if path.starts_with("/metrics") {
        "metrics"
    } else {
        "proxy"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(user: &str, groups: &[&str]) -> Caller {
        Caller {
            user: user.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn the_api_server_admins_and_the_node_itself_are_allowed() {
        assert!(caller("kube-apiserver-kubelet-client", &["system:masters"]).allowed("n1"));
        assert!(caller("kubernetes-admin", &["system:masters"]).allowed("n1"));
        assert!(caller("system:node:n1", &["system:nodes"]).allowed("n1"));
        assert!(!caller("system:node:n2", &["system:nodes"]).allowed("n1"));
        assert!(!caller("alice", &["dev"]).allowed("n1"));
        assert_eq!(subresource("/containerLogs/a/b/c"), "proxy");
        assert_eq!(subresource("/stats/summary"), "stats");
    }
}
