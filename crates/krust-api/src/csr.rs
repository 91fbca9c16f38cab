//! What a certificate signing request asks for: the PEM `CERTIFICATE REQUEST` of a
//! CertificateSigningRequest's `spec.request` parsed into its subject and alternative names
//! (Kubernetes' `certificates/v1` helpers `ParseCSR` and the fields its approvers read).
//! Validation, the approver and the signer all read requests through [`parse`]; a joining
//! node (and tests) write them with [`write`].

use std::net::IpAddr;

/// The signer of kubelet client certificates (`kubernetes.io/kube-apiserver-client-kubelet`).
pub const KUBELET_CLIENT_SIGNER: &str = "kubernetes.io/kube-apiserver-client-kubelet";
/// The signer of kubelet serving certificates (`kubernetes.io/kubelet-serving`).
pub const KUBELET_SERVING_SIGNER: &str = "kubernetes.io/kubelet-serving";
/// The signer of client certificates for the API server (`kubernetes.io/kube-apiserver-client`).
pub const API_CLIENT_SIGNER: &str = "kubernetes.io/kube-apiserver-client";

/// Every key usage a CertificateSigningRequest may name (`certificates/v1` `KeyUsage`).
pub const KEY_USAGES: &[&str] = &[
    "signing",
    "digital signature",
    "content commitment",
    "key encipherment",
    "key agreement",
    "data encipherment",
    "cert sign",
    "crl sign",
    "encipher only",
    "decipher only",
    "any",
    "server auth",
    "client auth",
    "code signing",
    "email protection",
    "s/mime",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "timestamping",
    "ocsp signing",
    "microsoft sgc",
    "netscape sgc",
];

/// The parts of a certificate request the approver and the signer look at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// The subject's common name.
    pub common_name: String,
    /// The subject's organizations.
    pub organizations: Vec<String>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub email_addresses: Vec<String>,
    pub uris: Vec<String>,
}

/// Parses the PEM text of a request (`spec.request`, base64-decoded): one block of type
/// `CERTIFICATE REQUEST` holding a PKCS#10 request. The error is Kubernetes' message.
pub fn parse(pem: &[u8]) -> Result<Request, String> {
    use x509_parser::certification_request::X509CertificationRequest;
    use x509_parser::extensions::{GeneralName, ParsedExtension};
    use x509_parser::prelude::FromDer;
    let (_, block) = x509_parser::pem::parse_x509_pem(pem)
        .map_err(|_| "PEM block type must be CERTIFICATE REQUEST".to_string())?;
    if block.label != "CERTIFICATE REQUEST" {
        return Err("PEM block type must be CERTIFICATE REQUEST".into());
    }
    let (_, csr) = X509CertificationRequest::from_der(&block.contents)
        .map_err(|e| format!("x509: malformed certificate request: {e}"))?;
    let subject = &csr.certification_request_info.subject;
    let mut out = Request {
        common_name: subject
            .iter_common_name()
            .next()
            .and_then(|c| c.as_str().ok())
            .unwrap_or_default()
            .to_string(),
        organizations: subject
            .iter_organization()
            .filter_map(|o| o.as_str().ok().map(String::from))
            .collect(),
        ..Request::default()
    };
    for ext in csr.requested_extensions().into_iter().flatten() {
        let ParsedExtension::SubjectAlternativeName(san) = ext else {
            continue;
        };
        for name in &san.general_names {
            match name {
                GeneralName::DNSName(n) => out.dns_names.push(n.to_string()),
                GeneralName::RFC822Name(e) => out.email_addresses.push(e.to_string()),
                GeneralName::URI(u) => out.uris.push(u.to_string()),
                GeneralName::IPAddress(b) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*b) {
                        out.ip_addresses.push(IpAddr::from(v4));
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*b) {
                        out.ip_addresses.push(IpAddr::from(v6));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

/// The PEM text of a request for `cn` in `organizations`, with DNS and IP alternative
/// names, signed by `key` (a kubelet asks for `system:node:<name>` in `system:nodes`).
pub fn write(
    cn: &str,
    organizations: &[&str],
    dns: &[&str],
    ips: &[IpAddr],
    key: &rcgen::KeyPair,
) -> Result<String, rcgen::Error> {
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    for o in organizations {
        p.distinguished_name
            .push(rcgen::DnType::OrganizationName, *o);
    }
    for d in dns {
        p.subject_alt_names
            .push(rcgen::SanType::DnsName((*d).try_into()?));
    }
    for ip in ips {
        p.subject_alt_names.push(rcgen::SanType::IpAddress(*ip));
    }
    p.serialize_request(key)?.pem()
}

/// `spec.request` of a CertificateSigningRequest (base64 in JSON) as PEM bytes.
pub fn request_pem(csr: &serde_json::Value) -> Option<Vec<u8>> {
    use base64::Engine;
    let b64 = csr.pointer("/spec/request")?.as_str()?;
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// Whether a CertificateSigningRequest has a condition of `kind` (`Approved`, `Denied`,
/// `Failed`) with status `True`.
pub fn has_condition(csr: &serde_json::Value, kind: &str) -> bool {
    csr.pointer("/status/conditions")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["type"] == kind && c["status"] == "True")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A request made as a kubelet makes one.
    pub(crate) fn request(cn: &str, dns: &[&str], ips: &[&str]) -> String {
        let ips: Vec<IpAddr> = ips.iter().map(|ip| ip.parse().unwrap()).collect();
        let key = rcgen::KeyPair::generate().unwrap();
        write(cn, &["system:nodes"], dns, &ips, &key).unwrap()
    }

    #[test]
    fn a_request_gives_its_subject_and_alternative_names() {
        let pem = request("system:node:n1", &["n1"], &["10.0.0.2"]);
        let r = parse(pem.as_bytes()).unwrap();
        assert_eq!(r.common_name, "system:node:n1");
        assert_eq!(r.organizations, ["system:nodes"]);
        assert_eq!(r.dns_names, ["n1"]);
        assert_eq!(r.ip_addresses, ["10.0.0.2".parse::<IpAddr>().unwrap()]);
        assert!(r.email_addresses.is_empty() && r.uris.is_empty());
    }

    #[test]
    fn a_certificate_is_not_a_request() {
        let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert_eq!(
            parse(cert.as_bytes()).unwrap_err(),
            "PEM block type must be CERTIFICATE REQUEST"
        );
        assert!(parse(b"not pem").is_err());
        let truncated = "-----BEGIN CERTIFICATE REQUEST-----\nMIIBJDCBywIBADAw\n-----END CERTIFICATE REQUEST-----\n";
        assert!(parse(truncated.as_bytes()).is_err());
    }
}
