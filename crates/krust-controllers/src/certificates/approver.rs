//! The CSR approver (kube-controller-manager's `csrapproving`, `sarapprove.go`) with the
//! kubelet serving rules of kubelet-csr-approver. It approves, through `/approval` with the
//! `AutoApproved` reason:
//!
//! - `kubernetes.io/kube-apiserver-client-kubelet` requests for `system:node:<name>` in
//!   `system:nodes` with no alternative names and client usages, from a bootstrapper
//!   (`nodeclient`) or from that very node renewing (`selfnodeclient`). Kubernetes asks a
//!   SubjectAccessReview; krust's fixed authorizer grants these to `system:bootstrappers`
//!   and `system:nodes` (and `system:masters`), as kubeadm's bindings do;
//! - `kubernetes.io/kubelet-serving` requests a node makes for its own name whose DNS names
//!   are its name or hostname and whose IP addresses are among its Node's addresses.
//!
//! Anything else stays as it is (pending) for an administrator's `kubectl certificate
//! approve` or `deny`.

use super::{each_request, has_condition, usages};
use k8s_openapi::api::certificates::v1::{
    CertificateSigningRequest, CertificateSigningRequestCondition,
};
use k8s_openapi::api::core::v1::Node;
use krust_api::csr::{self, KUBELET_CLIENT_SIGNER, KUBELET_SERVING_SIGNER};
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};
use std::sync::Arc;

/// What the approver does with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Approve with this message.
    Approve(&'static str),
    /// A serving request of this node: decided by [`serving`] with its Node.
    Serving(String),
    /// Leave it to someone else.
    Skip,
}

fn in_group(csr: &CertificateSigningRequest, group: &str) -> bool {
    csr.spec.groups.iter().flatten().any(|g| g == group)
}

/// The node named by a request's subject: CN `system:node:<name>`, O exactly `system:nodes`.
fn node_subject(req: &csr::Request) -> Option<&str> {
    let name = req.common_name.strip_prefix("system:node:")?;
    (!name.is_empty() && req.organizations == ["system:nodes"]).then_some(name)
}

/// Decides on a request by what it asks and who asks (not yet its Node).
pub fn decide(csr: &CertificateSigningRequest) -> Decision {
    if has_condition(csr, "Approved") || has_condition(csr, "Denied") {
        return Decision::Skip;
    }
    let Ok(req) = csr::parse(&csr.spec.request.0) else {
        return Decision::Skip;
    };
    let Some(node) = node_subject(&req) else {
        return Decision::Skip;
    };
    let usages = csr.spec.usages.clone().unwrap_or_default();
    let requester = csr.spec.username.as_deref().unwrap_or_default();
    let masters = in_group(csr, "system:masters");
    match csr.spec.signer_name.as_str() {
        KUBELET_CLIENT_SIGNER => {
            let no_names = req.dns_names.is_empty()
                && req.ip_addresses.is_empty()
                && req.email_addresses.is_empty()
                && req.uris.is_empty();
            if !no_names || !usages::kubelet_client(&usages) {
                return Decision::Skip;
            }
            if requester == req.common_name && (in_group(csr, "system:nodes") || masters) {
                Decision::Approve(
                    "Auto approving self kubelet client certificate after SubjectAccessReview.",
                )
            } else if in_group(csr, "system:bootstrappers") || masters {
                Decision::Approve(
                    "Auto approving kubelet client certificate after SubjectAccessReview.",
                )
            } else {
                Decision::Skip
            }
        }
        KUBELET_SERVING_SIGNER => {
            let own = requester == req.common_name && in_group(csr, "system:nodes");
            let plain = req.email_addresses.is_empty() && req.uris.is_empty();
            if own && plain && usages::kubelet_serving(&usages) {
                Decision::Serving(node.to_string())
            } else {
                Decision::Skip
            }
        }
        _ => Decision::Skip,
    }
}

/// A serving request of `node` is approved when its names are the node's name or hostname
/// and its addresses the Node's (and it asks for at least one of them).
pub fn serving(csr: &CertificateSigningRequest, node: &Node) -> bool {
    let Ok(req) = csr::parse(&csr.spec.request.0) else {
        return false;
    };
    let addresses: Vec<(String, String)> = node
        .status
        .iter()
        .flat_map(|s| s.addresses.iter().flatten())
        .map(|a| (a.type_.clone(), a.address.clone()))
        .collect();
    let name = node.name_any();
    let dns_ok = req.dns_names.iter().all(|d| {
        *d == name
            || addresses
                .iter()
                .any(|(t, a)| (t == "Hostname" || t == "InternalDNS") && a == d)
    });
    let ips_ok = req.ip_addresses.iter().all(|ip| {
        addresses
            .iter()
            .any(|(t, a)| (t == "InternalIP" || t == "ExternalIP") && *a == ip.to_string())
    });
    let any = !req.dns_names.is_empty() || !req.ip_addresses.is_empty();
    dns_ok && ips_ok && any
}

/// Runs the approver until it fails.
pub async fn run(client: Client) -> anyhow::Result<()> {
    let c = client.clone();
    each_request(client, "csrapproving", move |csr| {
        let client = c.clone();
        async move { sync(&client, csr).await }
    })
    .await
}

async fn sync(client: &Client, csr: Arc<CertificateSigningRequest>) -> crate::informer::Outcome {
    let message = match decide(&csr) {
        Decision::Approve(m) => m,
        Decision::Serving(node) => {
            let Some(node) = Api::<Node>::all(client.clone()).get_opt(&node).await? else {
                return Ok(None);
            };
            if !serving(&csr, &node) {
                tracing::info!(csr = %csr.name_any(), "a kubelet serving request names addresses its node does not have; left pending");
                return Ok(None);
            }
            "Auto approving kubelet serving certificate after SubjectAccessReview."
        }
        Decision::Skip => return Ok(None),
    };
    let mut approved = (*csr).clone();
    let status = approved.status.get_or_insert_with(Default::default);
    status
        .conditions
        .get_or_insert_with(Vec::new)
        .push(CertificateSigningRequestCondition {
            type_: "Approved".into(),
            status: "True".into(),
            reason: Some("AutoApproved".into()),
            message: Some(message.into()),
            ..Default::default()
        });
    let api = Api::<CertificateSigningRequest>::all(client.clone());
    match api
        .replace_subresource(
            "approval",
            &csr.name_any(),
            &PostParams::default(),
            &approved,
        )
        .await
    {
        Ok(_) => {
            tracing::info!(csr = %csr.name_any(), message, "approved");
            Ok(None)
        }
        // Changed meanwhile: the new version comes through the watch.
        Err(kube::Error::Api(e)) if matches!(e.code, 404 | 409) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::{NodeAddress, NodeStatus};

    fn request(cn: &str, dns: &[&str], ips: &[&str]) -> Vec<u8> {
        let ips: Vec<_> = ips.iter().map(|ip| ip.parse().unwrap()).collect();
        let key = rcgen::KeyPair::generate().unwrap();
        krust_api::csr::write(cn, &["system:nodes"], dns, &ips, &key)
            .unwrap()
            .into_bytes()
    }

    fn csr(
        signer: &str,
        pem: Vec<u8>,
        user: &str,
        groups: &[&str],
        usages: &[&str],
    ) -> CertificateSigningRequest {
        let mut c = CertificateSigningRequest::default();
        c.spec.signer_name = signer.into();
        c.spec.request = ByteString(pem);
        c.spec.username = Some(user.into());
        c.spec.groups = Some(groups.iter().map(|g| g.to_string()).collect());
        c.spec.usages = Some(usages.iter().map(|g| g.to_string()).collect());
        c
    }

    const CLIENT: &[&str] = &["digital signature", "client auth"];
    const SERVING: &[&str] = &["digital signature", "server auth"];

    #[test]
    fn a_bootstrapper_gets_a_node_client_certificate_approved() {
        let c = csr(
            KUBELET_CLIENT_SIGNER,
            request("system:node:n1", &[], &[]),
            "system:bootstrap:abcdef",
            &["system:bootstrappers"],
            CLIENT,
        );
        assert!(
            matches!(decide(&c), Decision::Approve(m) if m.starts_with("Auto approving kubelet client"))
        );
        let renew = csr(
            KUBELET_CLIENT_SIGNER,
            request("system:node:n1", &[], &[]),
            "system:node:n1",
            &["system:nodes"],
            CLIENT,
        );
        assert!(matches!(decide(&renew), Decision::Approve(m) if m.contains("self")));
    }

    #[test]
    fn other_client_requests_stay_pending() {
        let other_node = csr(
            KUBELET_CLIENT_SIGNER,
            request("system:node:n2", &[], &[]),
            "system:node:n1",
            &["system:nodes"],
            CLIENT,
        );
        assert_eq!(decide(&other_node), Decision::Skip);
        let stranger = csr(
            KUBELET_CLIENT_SIGNER,
            request("system:node:n1", &[], &[]),
            "alice",
            &["devs"],
            CLIENT,
        );
        assert_eq!(decide(&stranger), Decision::Skip);
        let admin_cn = csr(
            KUBELET_CLIENT_SIGNER,
            request("admin", &[], &[]),
            "system:bootstrap:abcdef",
            &["system:bootstrappers"],
            CLIENT,
        );
        assert_eq!(decide(&admin_cn), Decision::Skip);
        let with_names = csr(
            KUBELET_CLIENT_SIGNER,
            request("system:node:n1", &["n1"], &[]),
            "system:bootstrap:abcdef",
            &["system:bootstrappers"],
            CLIENT,
        );
        assert_eq!(decide(&with_names), Decision::Skip);
        let serving_usage = csr(
            KUBELET_CLIENT_SIGNER,
            request("system:node:n1", &[], &[]),
            "system:bootstrap:abcdef",
            &["system:bootstrappers"],
            SERVING,
        );
        assert_eq!(decide(&serving_usage), Decision::Skip);
        let other_signer = csr(
            "example.com/x",
            request("system:node:n1", &[], &[]),
            "system:bootstrap:abcdef",
            &["system:bootstrappers"],
            CLIENT,
        );
        assert_eq!(decide(&other_signer), Decision::Skip);
    }

    #[test]
    fn a_node_gets_serving_certificates_for_its_own_addresses_only() {
        let mut node = Node::default();
        node.metadata.name = Some("n1".into());
        node.status = Some(NodeStatus {
            addresses: Some(vec![
                NodeAddress {
                    type_: "InternalIP".into(),
                    address: "10.39.0.2".into(),
                },
                NodeAddress {
                    type_: "Hostname".into(),
                    address: "host-a".into(),
                },
            ]),
            ..Default::default()
        });
        let own = csr(
            KUBELET_SERVING_SIGNER,
            request("system:node:n1", &["n1", "host-a"], &["10.39.0.2"]),
            "system:node:n1",
            &["system:nodes"],
            SERVING,
        );
        assert_eq!(decide(&own), Decision::Serving("n1".into()));
        assert!(serving(&own, &node));
        let foreign_ip = csr(
            KUBELET_SERVING_SIGNER,
            request("system:node:n1", &["n1"], &["10.0.0.9"]),
            "system:node:n1",
            &["system:nodes"],
            SERVING,
        );
        assert!(!serving(&foreign_ip, &node));
        let foreign_name = csr(
            KUBELET_SERVING_SIGNER,
            request("system:node:n1", &["kubernetes.default"], &[]),
            "system:node:n1",
            &["system:nodes"],
            SERVING,
        );
        assert!(!serving(&foreign_name, &node));
        let by_bootstrapper = csr(
            KUBELET_SERVING_SIGNER,
            request("system:node:n1", &["n1"], &[]),
            "system:bootstrap:abcdef",
            &["system:bootstrappers"],
            SERVING,
        );
        assert_eq!(decide(&by_bootstrapper), Decision::Skip);
    }
}
