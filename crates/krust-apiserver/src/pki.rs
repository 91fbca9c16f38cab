//! The cluster PKI: a CA minted at first start, the serving certificate, the admin client
//! certificate, the API server's kubelet client certificate, and the kubeconfig that carries
//! them to kubectl; kubelet serving certificates and other client certificates on demand.

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::net::IpAddr;
use std::path::Path;

/// PEM files of the cluster PKI, under `<data>/pki`.
#[derive(Clone, Debug)]
pub struct Pki {
    pub ca_cert: String,
    /// The CA's key, to sign kubelet serving certificates and client certificates.
    pub ca_key: String,
    pub server_cert: String,
    pub server_key: String,
    pub admin_cert: String,
    pub admin_key: String,
    /// The API server's client certificate towards kubelets (as kube-apiserver's
    /// `--kubelet-client-certificate`): CN `kube-apiserver-kubelet-client`, O `system:masters`.
    pub kubelet_client_cert: String,
    pub kubelet_client_key: String,
}

fn ca_params() -> Result<CertificateParams> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name.push(DnType::CommonName, "krust-ca");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2099, 1, 1);
    Ok(p)
}

fn leaf(
    cn: &str,
    org: Option<&str>,
    sans: &[SanType],
    usage: ExtendedKeyUsagePurpose,
) -> Result<CertificateParams> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name.push(DnType::CommonName, cn);
    if let Some(o) = org {
        p.distinguished_name.push(DnType::OrganizationName, o);
    }
    p.subject_alt_names = sans.to_vec();
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![usage];
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2099, 1, 1);
    Ok(p)
}

/// Whether a certificate (PEM) names every one of `ips` as a subject alternative name.
fn names_every(pem: &str, ips: &[IpAddr]) -> bool {
    let Ok((_, block)) = x509_parser::pem::parse_x509_pem(pem.as_bytes()) else {
        return false;
    };
    let Ok(cert) = block.parse_x509() else {
        return false;
    };
    let named: Vec<IpAddr> = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .into_iter()
        .flat_map(|san| san.value.general_names.iter())
        .filter_map(|n| match n {
            x509_parser::extensions::GeneralName::IPAddress(b) => match b.len() {
                4 => <[u8; 4]>::try_from(*b).ok().map(IpAddr::from),
                16 => <[u8; 16]>::try_from(*b).ok().map(IpAddr::from),
                _ => None,
            },
            _ => None,
        })
        .collect();
    ips.iter().all(|ip| named.contains(ip))
}

fn read_or<F: FnOnce() -> Result<String>>(path: &Path, make: F) -> Result<String> {
    if let Ok(s) = std::fs::read_to_string(path) {
        return Ok(s);
    }
    let s = make()?;
    std::fs::write(path, &s).with_context(|| format!("writing {}", path.display()))?;
    Ok(s)
}

impl Pki {
    /// Loads the PKI under `dir`, minting whatever is missing. `ips` and `names` go into the
    /// serving certificate's subject alternative names.
    pub fn load_or_create(dir: &Path, ips: &[IpAddr], names: &[String]) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let ca_key_pem = read_or(&dir.join("ca.key"), || {
            Ok(KeyPair::generate()?.serialize_pem())
        })?;
        let ca_key = KeyPair::from_pem(&ca_key_pem)?;
        let ca_cert = read_or(&dir.join("ca.crt"), || {
            Ok(ca_params()?.self_signed(&ca_key)?.pem())
        })?;
        let issuer = Issuer::from_ca_cert_pem(&ca_cert, &ca_key)?;

        let mut sans: Vec<SanType> = ips.iter().map(|ip| SanType::IpAddress(*ip)).collect();
        for n in names {
            sans.push(SanType::DnsName(n.as_str().try_into()?));
        }
        // A serving certificate that misses an address the server now listens on (restarted
        // with another `--listen`) is minted again; the CA and client certificates stay.
        if let Ok(existing) = std::fs::read_to_string(dir.join("server.crt"))
            && !names_every(&existing, ips)
        {
            let _ = std::fs::remove_file(dir.join("server.crt"));
        }
        let (server_cert, server_key) = Self::leaf_pair(
            dir,
            "server",
            || {
                leaf(
                    "kube-apiserver",
                    None,
                    &sans,
                    ExtendedKeyUsagePurpose::ServerAuth,
                )
            },
            &issuer,
        )?;
        let (admin_cert, admin_key) = Self::leaf_pair(
            dir,
            "admin",
            || {
                leaf(
                    "kubernetes-admin",
                    Some("system:masters"),
                    &[],
                    ExtendedKeyUsagePurpose::ClientAuth,
                )
            },
            &issuer,
        )?;
        let (kubelet_client_cert, kubelet_client_key) = Self::leaf_pair(
            dir,
            "apiserver-kubelet-client",
            || {
                leaf(
                    "kube-apiserver-kubelet-client",
                    Some("system:masters"),
                    &[],
                    ExtendedKeyUsagePurpose::ClientAuth,
                )
            },
            &issuer,
        )?;
        Ok(Pki {
            ca_cert,
            ca_key: ca_key_pem,
            server_cert,
            server_key,
            admin_cert,
            admin_key,
            kubelet_client_cert,
            kubelet_client_key,
        })
    }

    fn sign(&self, params: CertificateParams) -> Result<(String, String)> {
        let ca_key = KeyPair::from_pem(&self.ca_key)?;
        let issuer = Issuer::from_ca_cert_pem(&self.ca_cert, &ca_key)?;
        let kp = KeyPair::generate()?;
        let cert = params.signed_by(&kp, &issuer)?.pem();
        Ok((cert, kp.serialize_pem()))
    }

    /// A kubelet serving certificate and key (PEM) signed by the CA: CN `system:node:<node>`,
    /// O `system:nodes`, the node name and its addresses as subject alternative names.
    pub fn kubelet_serving(&self, node: &str, ips: &[IpAddr]) -> Result<(String, String)> {
        let mut sans: Vec<SanType> = ips.iter().map(|ip| SanType::IpAddress(*ip)).collect();
        sans.push(SanType::DnsName(node.try_into()?));
        self.sign(leaf(
            &format!("system:node:{node}"),
            Some("system:nodes"),
            &sans,
            ExtendedKeyUsagePurpose::ServerAuth,
        )?)
    }

    /// A client certificate and key (PEM) signed by the CA for user `cn` in group `org`
    /// (e.g. a node's own identity, `system:node:<node>` in `system:nodes`).
    pub fn client(&self, cn: &str, org: Option<&str>) -> Result<(String, String)> {
        self.sign(leaf(cn, org, &[], ExtendedKeyUsagePurpose::ClientAuth)?)
    }

    fn leaf_pair(
        dir: &Path,
        name: &str,
        params: impl FnOnce() -> Result<CertificateParams>,
        issuer: &Issuer<'_, &KeyPair>,
    ) -> Result<(String, String)> {
        let (crt, key) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        if let (Ok(c), Ok(k)) = (std::fs::read_to_string(&crt), std::fs::read_to_string(&key)) {
            return Ok((c, k));
        }
        let kp = KeyPair::generate()?;
        let cert = params()?.signed_by(&kp, issuer)?.pem();
        std::fs::write(&key, kp.serialize_pem())?;
        std::fs::write(&crt, &cert)?;
        Ok((cert, kp.serialize_pem()))
    }

    /// A kubeconfig for the admin user against `server` (`https://host:port`).
    pub fn kubeconfig(&self, server: &str) -> String {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: krust\n  cluster:\n    server: {server}\n    \
             certificate-authority-data: {}\nusers:\n- name: krust-admin\n  user:\n    \
             client-certificate-data: {}\n    client-key-data: {}\ncontexts:\n- name: krust\n  context:\n    \
             cluster: krust\n    user: krust-admin\n    namespace: default\ncurrent-context: krust\n",
            b64(&self.ca_cert),
            b64(&self.admin_cert),
            b64(&self.admin_key),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let ips = ["127.0.0.1".parse().unwrap()];
        let a = Pki::load_or_create(dir.path(), &ips, &["localhost".into()]).unwrap();
        let b = Pki::load_or_create(dir.path(), &ips, &["localhost".into()]).unwrap();
        assert_eq!(a.ca_cert, b.ca_cert);
        assert_eq!(a.admin_cert, b.admin_cert);
        assert_eq!(a.kubelet_client_cert, b.kubelet_client_cert);
        let (cert, _) = a.kubelet_serving("n1", &ips).unwrap();
        assert!(names_every(&a.server_cert, &ips));
        let more: Vec<IpAddr> = vec![ips[0], "10.39.0.1".parse().unwrap()];
        let c = Pki::load_or_create(dir.path(), &more, &["localhost".into()]).unwrap();
        assert_eq!(c.ca_cert, a.ca_cert, "the CA stays");
        assert_ne!(
            c.server_cert, a.server_cert,
            "a new address: a new serving certificate"
        );
        assert!(names_every(&c.server_cert, &more));
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(
            a.kubeconfig("https://127.0.0.1:6443")
                .contains("client-key-data")
        );
    }
}
