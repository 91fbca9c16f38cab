//! The CSR signer (kube-controller-manager's `csrsigning`): approved requests to the
//! `kubernetes.io/kube-apiserver-client-kubelet`, `kubernetes.io/kubelet-serving` and
//! `kubernetes.io/kube-apiserver-client` signers get `status.certificate`, signed by the
//! cluster CA, valid from five minutes ago (the controller's backdate) for
//! `spec.expirationSeconds` or else the cluster signing duration (a year), never past the
//! CA. A request a signer refuses (`kubernetes.io` signers check the subject and usages)
//! gets the `Failed` condition with reason `SignerValidationFailure`. Requests to other
//! signers are left alone.

use super::{each_request, has_condition, usages};
use k8s_openapi::api::certificates::v1::{
    CertificateSigningRequest, CertificateSigningRequestCondition,
};
use krust_api::csr::{self, API_CLIENT_SIGNER, KUBELET_CLIENT_SIGNER, KUBELET_SERVING_SIGNER};
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};
use rcgen::{ExtendedKeyUsagePurpose as Eku, KeyUsagePurpose as Ku};
use std::sync::Arc;
use std::time::Duration;

/// `--cluster-signing-duration`'s default: a year.
pub const SIGNING_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
/// How far before now certificates start (`backdate` in the signer).
const BACKDATE: Duration = Duration::from_secs(5 * 60);

/// The CA the signer signs with (PEM).
#[derive(Clone, Debug)]
pub struct Ca {
    pub cert: String,
    pub key: String,
}

/// Why a signer refuses a request.
fn check(csr: &CertificateSigningRequest, req: &csr::Request) -> Result<(), String> {
    let usages = csr.spec.usages.clone().unwrap_or_default();
    let node = req
        .common_name
        .strip_prefix("system:node:")
        .filter(|n| !n.is_empty() && req.organizations == ["system:nodes"]);
    match csr.spec.signer_name.as_str() {
        KUBELET_CLIENT_SIGNER => {
            node.ok_or("subject must be CN=system:node:<name>, O=system:nodes")?;
            let names = req.dns_names.len()
                + req.ip_addresses.len()
                + req.email_addresses.len()
                + req.uris.len();
            if names > 0 {
                return Err("no subject alternative names are allowed".into());
            }
            if !usages::kubelet_client(&usages) {
                return Err(
                    "usages must be client auth with digital signature or key encipherment".into(),
                );
            }
        }
        KUBELET_SERVING_SIGNER => {
            node.ok_or("subject must be CN=system:node:<name>, O=system:nodes")?;
            if !req.email_addresses.is_empty() || !req.uris.is_empty() {
                return Err("only DNS and IP subject alternative names are allowed".into());
            }
            if req.dns_names.is_empty() && req.ip_addresses.is_empty() {
                return Err("at least one DNS or IP subject alternative name is required".into());
            }
            if !usages::kubelet_serving(&usages) {
                return Err(
                    "usages must be server auth with digital signature or key encipherment".into(),
                );
            }
        }
        API_CLIENT_SIGNER => {
            if !usages::kubelet_client(&usages) {
                return Err(
                    "usages must be client auth with digital signature or key encipherment".into(),
                );
            }
        }
        _ => return Err("not a signer of this controller".into()),
    }
    Ok(())
}

/// Signs an approved request: the certificate (PEM) or why the signer refuses it.
pub fn sign(
    csr: &CertificateSigningRequest,
    ca: &Ca,
    now: jiff::Timestamp,
) -> Result<String, String> {
    let pem = String::from_utf8(csr.spec.request.0.clone()).map_err(|e| e.to_string())?;
    let req = csr::parse(pem.as_bytes())?;
    check(csr, &req)?;
    let mut params = rcgen::CertificateSigningRequestParams::from_pem(&pem)
        .map_err(|e| format!("the request: {e}"))?;
    let p = &mut params.params;
    let requested = csr
        .spec
        .expiration_seconds
        .map(|s| Duration::from_secs(s.max(600) as u64))
        .unwrap_or(SIGNING_DURATION)
        .min(SIGNING_DURATION);
    let at = |t: jiff::Timestamp| {
        time::OffsetDateTime::from_unix_timestamp(t.as_second()).map_err(|e| e.to_string())
    };
    let span = |d: Duration| jiff::SignedDuration::try_from(d).map_err(|e| e.to_string());
    p.not_before = at(now - span(BACKDATE)?)?;
    p.not_after = at(now + span(requested)?)?.min(ca_not_after(&ca.cert)?);
    p.is_ca = rcgen::IsCa::ExplicitNoCa;
    p.serial_number = Some(rcgen::SerialNumber::from_slice(
        uuid::Uuid::new_v4().as_bytes(),
    ));
    p.key_usages.clear();
    p.extended_key_usages.clear();
    for u in csr.spec.usages.iter().flatten() {
        match u.as_str() {
            "digital signature" => p.key_usages.push(Ku::DigitalSignature),
            "key encipherment" => p.key_usages.push(Ku::KeyEncipherment),
            "client auth" => p.extended_key_usages.push(Eku::ClientAuth),
            "server auth" => p.extended_key_usages.push(Eku::ServerAuth),
            _ => {}
        }
    }
    p.use_authority_key_identifier_extension = true;
    let key = rcgen::KeyPair::from_pem(&ca.key).map_err(|e| format!("the CA key: {e}"))?;
    let issuer =
        rcgen::Issuer::from_ca_cert_pem(&ca.cert, &key).map_err(|e| format!("the CA: {e}"))?;
    let cert = params.signed_by(&issuer).map_err(|e| e.to_string())?;
    Ok(cert.pem())
}

fn ca_not_after(pem: &str) -> Result<time::OffsetDateTime, String> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| e.to_string())?;
    let cert = block.parse_x509().map_err(|e| e.to_string())?;
    Ok(cert.validity().not_after.to_datetime())
}

/// Runs the signer until it fails.
pub async fn run(client: Client, ca: Ca) -> anyhow::Result<()> {
    let c = client.clone();
    let ca = Arc::new(ca);
    each_request(client, "csrsigning", move |csr| {
        let (client, ca) = (c.clone(), ca.clone());
        async move { sync(&client, &ca, csr).await }
    })
    .await
}

async fn sync(
    client: &Client,
    ca: &Ca,
    csr: Arc<CertificateSigningRequest>,
) -> crate::informer::Outcome {
    let ours = matches!(
        csr.spec.signer_name.as_str(),
        KUBELET_CLIENT_SIGNER | KUBELET_SERVING_SIGNER | API_CLIENT_SIGNER
    );
    let issued = csr
        .status
        .as_ref()
        .and_then(|s| s.certificate.as_ref())
        .is_some_and(|c| !c.0.is_empty());
    if !ours
        || issued
        || !has_condition(&csr, "Approved")
        || has_condition(&csr, "Denied")
        || has_condition(&csr, "Failed")
    {
        return Ok(None);
    }
    let mut next = (*csr).clone();
    let status = next.status.get_or_insert_with(Default::default);
    match sign(&csr, ca, jiff::Timestamp::now()) {
        Ok(pem) => status.certificate = Some(k8s_openapi::ByteString(pem.into_bytes())),
        Err(why) => {
            tracing::info!(csr = %csr.name_any(), %why, "the signer refuses the request");
            status.conditions.get_or_insert_with(Vec::new).push(
                CertificateSigningRequestCondition {
                    type_: "Failed".into(),
                    status: "True".into(),
                    reason: Some("SignerValidationFailure".into()),
                    message: Some(why),
                    ..Default::default()
                },
            );
        }
    }
    let api = Api::<CertificateSigningRequest>::all(client.clone());
    match api
        .replace_status(&csr.name_any(), &PostParams::default(), &next)
        .await
    {
        Ok(_) => Ok(None),
        Err(kube::Error::Api(e)) if matches!(e.code, 404 | 409) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn ca() -> Ca {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "test-ca");
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.not_after = rcgen::date_time_ymd(2099, 1, 1);
        Ca {
            cert: p.self_signed(&key).unwrap().pem(),
            key: key.serialize_pem(),
        }
    }

    fn csr(
        signer: &str,
        cn: &str,
        ips: &[&str],
        usages: &[&str],
        seconds: Option<i32>,
    ) -> CertificateSigningRequest {
        let ips: Vec<_> = ips.iter().map(|ip| ip.parse().unwrap()).collect();
        let key = rcgen::KeyPair::generate().unwrap();
        let pem = krust_api::csr::write(cn, &["system:nodes"], &[], &ips, &key).unwrap();
        let mut c = CertificateSigningRequest::default();
        c.spec.signer_name = signer.into();
        c.spec.request = ByteString(pem.into_bytes());
        c.spec.usages = Some(usages.iter().map(|u| u.to_string()).collect());
        c.spec.expiration_seconds = seconds;
        c
    }

    #[test]
    fn a_kubelet_client_certificate_is_signed_for_the_requested_duration() {
        let now = jiff::Timestamp::now();
        let c = csr(
            KUBELET_CLIENT_SIGNER,
            "system:node:n1",
            &[],
            &["digital signature", "client auth"],
            Some(3600),
        );
        let pem = sign(&c, &ca(), now).unwrap();
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
        let cert = block.parse_x509().unwrap();
        assert_eq!(
            cert.subject()
                .iter_common_name()
                .next()
                .unwrap()
                .as_str()
                .unwrap(),
            "system:node:n1"
        );
        let v = cert.validity();
        let lifetime = v.not_after.timestamp() - v.not_before.timestamp();
        assert_eq!(lifetime, 3600 + 300, "an hour, backdated five minutes");
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.client_auth && !eku.server_auth);
    }

    #[test]
    fn a_serving_certificate_carries_its_addresses_and_server_auth() {
        let c = csr(
            KUBELET_SERVING_SIGNER,
            "system:node:n1",
            &["10.39.0.2"],
            &["digital signature", "server auth"],
            None,
        );
        let pem = sign(&c, &ca(), jiff::Timestamp::now()).unwrap();
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
        let cert = block.parse_x509().unwrap();
        let san = cert.subject_alternative_name().unwrap().unwrap().value;
        assert_eq!(san.general_names.len(), 1);
        assert!(
            cert.extended_key_usage()
                .unwrap()
                .unwrap()
                .value
                .server_auth
        );
    }

    #[test]
    fn requests_outside_a_signers_rules_are_refused() {
        let admin = csr(
            KUBELET_CLIENT_SIGNER,
            "kubernetes-admin",
            &[],
            &["digital signature", "client auth"],
            None,
        );
        assert!(
            sign(&admin, &ca(), jiff::Timestamp::now())
                .unwrap_err()
                .contains("subject")
        );
        let no_names = csr(
            KUBELET_SERVING_SIGNER,
            "system:node:n1",
            &[],
            &["digital signature", "server auth"],
            None,
        );
        assert!(sign(&no_names, &ca(), jiff::Timestamp::now()).is_err());
        let other = csr(
            "example.com/x",
            "system:node:n1",
            &[],
            &["client auth"],
            None,
        );
        assert!(sign(&other, &ca(), jiff::Timestamp::now()).is_err());
    }
}
