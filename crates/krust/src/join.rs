//! A node's TLS bootstrap, as the kubelet's `--bootstrap-kubeconfig` with kubeadm's or
//! k3s' token discovery does it: the cluster CA fetched from `/cacerts` and checked against
//! the hash the join token names, a key and a CertificateSigningRequest for
//! `system:node:<name>` sent with the bootstrap token, and the issued certificate written as
//! `<data dir>/kubelet.kubeconfig`, reused from then on (no token needed again). The
//! kubelet serving certificate is asked for the same way, with the node's own credentials,
//! and kept in `<data dir>/pki/kubelet-serving.{crt,key}`.

use anyhow::{Context as _, bail};
use base64::Engine;
use k8s_openapi::ByteString;
use k8s_openapi::api::certificates::v1::{
    CertificateSigningRequest, CertificateSigningRequestSpec,
};
use krust_api::csr::{KUBELET_CLIENT_SIGNER, KUBELET_SERVING_SIGNER};
use krust_apiserver::bootstrap_token::{self, write_private};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long the agent waits for a request to be approved and signed.
const APPROVAL_TIMEOUT: Duration = Duration::from_secs(600);

/// The node's kubeconfig, `<data dir>/kubelet.kubeconfig`.
pub fn kubeconfig_path(data_dir: &Path) -> PathBuf {
    data_dir.join("kubelet.kubeconfig")
}

/// A kubeconfig for `server` trusting `ca`, as a user with a client certificate or a token.
fn kubeconfig(server: &str, ca: &str, user: &str) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: krust\n  cluster:\n    server: {server}\n    \
         certificate-authority-data: {}\nusers:\n- name: node\n  user:\n{user}contexts:\n- name: krust\n  context:\n    \
         cluster: krust\n    user: node\ncurrent-context: krust\n",
        b64(ca)
    )
}

fn cert_user(cert: &str, key: &str) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    format!(
        "    client-certificate-data: {}\n    client-key-data: {}\n",
        b64(cert),
        b64(key)
    )
}

async fn client_of(yaml: &str) -> anyhow::Result<kube::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kc = Kubeconfig::from_yaml(yaml)?;
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?;
    Ok(kube::Client::try_from(config)?)
}

/// The CA bundle `/cacerts` serves, trusted only if its hash is the one the token names.
pub async fn discover_ca(server: &str, expected_hash: &str) -> anyhow::Result<String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = kube::Config::new(server.parse().context("--server must be a URL")?);
    // Nothing is trusted yet: what arrives is checked against the token's hash.
    config.accept_invalid_certs = true;
    let client = kube::Client::try_from(config)?;
    let req = http::Request::get("/cacerts").body(Vec::new())?;
    let ca = client
        .request_text(req)
        .await
        .with_context(|| format!("fetching the cluster CA from {server}/cacerts"))?;
    let hash = bootstrap_token::ca_hash(&ca);
    if hash != expected_hash {
        bail!(
            "the CA at {server} has hash {hash}, not the {expected_hash} the token names: refusing to trust it"
        );
    }
    Ok(ca)
}

/// The node's client: from its kubeconfig when it has one that still authenticates, else
/// bootstrapped with the join token (written to the kubeconfig for next time).
pub async fn node_client(
    server: &str,
    token: Option<&str>,
    data_dir: &Path,
    node: &str,
) -> anyhow::Result<(kube::Client, String)> {
    let path = kubeconfig_path(data_dir);
    if let Ok(yaml) = std::fs::read_to_string(&path) {
        let client = client_of(&yaml).await?;
        let ca = ca_of(&yaml)?;
        match client.apiserver_version().await {
            Ok(_) => match Api::<k8s_openapi::api::core::v1::Node>::all(client.clone())
                .get_opt(node)
                .await
            {
                Err(kube::Error::Api(e)) if e.code == 401 => {
                    tracing::warn!("the node's credentials are refused; bootstrapping again")
                }
                _ => {
                    tracing::info!(kubeconfig = %path.display(), "using the node's credentials");
                    return Ok((client, ca));
                }
            },
            Err(e) => return Err(e).context("reaching the API server"),
        }
    }
    let Some(token) = token else {
        bail!(
            "{} does not exist: a join token (--token, from the server's data dir `token` file) is needed",
            path.display()
        );
    };
    let (hash, token) = bootstrap_token::parse_join_token(token)
        .context("the token is not a join token (K10<ca hash>::<id>.<secret>)")?;
    let Some(hash) = hash else {
        bail!("the token names no CA hash: use the server's K10<ca hash>::<id>.<secret> token");
    };
    let ca = discover_ca(server, &hash).await?;
    let bootstrap = client_of(&kubeconfig(
        server,
        &ca,
        &format!("    token: {}\n", token.text()),
    ))
    .await?;
    let key = rcgen::KeyPair::generate()?;
    let request = request_pem(node, &key, &[], &[])?;
    tracing::info!(node, "asking for the node's client certificate");
    let cert = request_certificate(
        &bootstrap,
        KUBELET_CLIENT_SIGNER,
        &request,
        &["digital signature", "client auth"],
    )
    .await?;
    let yaml = kubeconfig(server, &ca, &cert_user(&cert, &key.serialize_pem()));
    write_private(&path, &yaml)?;
    Ok((client_of(&yaml).await?, ca))
}

fn ca_of(yaml: &str) -> anyhow::Result<String> {
    let kc = Kubeconfig::from_yaml(yaml)?;
    let data = kc
        .clusters
        .first()
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.certificate_authority_data.clone())
        .context("the kubeconfig names no CA")?;
    Ok(String::from_utf8(
        base64::engine::general_purpose::STANDARD.decode(data)?,
    )?)
}

/// The kubelet's serving certificate and key (PEM): the kept ones when they name
/// `address`, else new ones signed through a CertificateSigningRequest.
pub async fn serving_certificate(
    client: &kube::Client,
    data_dir: &Path,
    node: &str,
    address: IpAddr,
) -> anyhow::Result<(String, String)> {
    let dir = data_dir.join("pki");
    let (crt, key) = (
        dir.join("kubelet-serving.crt"),
        dir.join("kubelet-serving.key"),
    );
    if let (Ok(c), Ok(k)) = (std::fs::read_to_string(&crt), std::fs::read_to_string(&key))
        && names_address(&c, address)
    {
        return Ok((c, k));
    }
    let pair = rcgen::KeyPair::generate()?;
    let request = request_pem(node, &pair, &[node], &[address])?;
    tracing::info!(node, %address, "asking for the kubelet's serving certificate");
    let cert = request_certificate(
        client,
        KUBELET_SERVING_SIGNER,
        &request,
        &["digital signature", "server auth"],
    )
    .await?;
    std::fs::create_dir_all(&dir)?;
    write_private(&key, &pair.serialize_pem())?;
    std::fs::write(&crt, &cert)?;
    Ok((cert, pair.serialize_pem()))
}

/// Whether a certificate (PEM) names `address` and is not past its end.
fn names_address(pem: &str, address: IpAddr) -> bool {
    let Ok((_, block)) = x509_parser::pem::parse_x509_pem(pem.as_bytes()) else {
        return false;
    };
    let Ok(cert) = block.parse_x509() else {
        return false;
    };
    let live = cert.validity().time_to_expiration().is_some();
    let named = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .is_some_and(|san| {
            san.value.general_names.iter().any(|n| match n {
                x509_parser::extensions::GeneralName::IPAddress(b) => match address {
                    IpAddr::V4(a) => *b == a.octets(),
                    IpAddr::V6(a) => *b == a.octets(),
                },
                _ => false,
            })
        });
    live && named
}

/// A PEM request for `system:node:<node>` in `system:nodes`.
fn request_pem(
    node: &str,
    key: &rcgen::KeyPair,
    dns: &[&str],
    ips: &[IpAddr],
) -> anyhow::Result<String> {
    let cn = format!("system:node:{node}");
    Ok(krust_api::csr::write(
        &cn,
        &["system:nodes"],
        dns,
        ips,
        key,
    )?)
}

/// Creates a CertificateSigningRequest and waits until it is issued (or denied, or failed).
async fn request_certificate(
    client: &kube::Client,
    signer: &str,
    request: &str,
    usages: &[&str],
) -> anyhow::Result<String> {
    let api = Api::<CertificateSigningRequest>::all(client.clone());
    let csr = CertificateSigningRequest {
        metadata: ObjectMeta {
            generate_name: Some(if signer == KUBELET_CLIENT_SIGNER {
                "node-csr-".into()
            } else {
                "csr-".into()
            }),
            ..Default::default()
        },
        spec: CertificateSigningRequestSpec {
            request: ByteString(request.as_bytes().to_vec()),
            signer_name: signer.into(),
            usages: Some(usages.iter().map(|u| u.to_string()).collect()),
            ..Default::default()
        },
        status: None,
    };
    let created = api.create(&PostParams::default(), &csr).await?;
    let name = created.metadata.name.unwrap_or_default();
    tracing::info!(csr = %name, signer, "waiting for the certificate (kubectl certificate approve {name}, if it is not approved automatically)");
    let deadline = tokio::time::Instant::now() + APPROVAL_TIMEOUT;
    loop {
        let csr = api.get(&name).await?;
        let status = csr.status.unwrap_or_default();
        for c in status.conditions.iter().flatten() {
            if (c.type_ == "Denied" || c.type_ == "Failed") && c.status == "True" {
                bail!(
                    "certificate signing request {name} is {}: {}",
                    c.type_.to_lowercase(),
                    c.message.clone().unwrap_or_default()
                );
            }
        }
        if let Some(cert) = status.certificate.filter(|c| !c.0.is_empty()) {
            return Ok(String::from_utf8(cert.0)?);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("certificate signing request {name} was not issued within {APPROVAL_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
