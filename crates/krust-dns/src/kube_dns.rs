//! The node's part of the `kube-system/kube-dns` Service: the Service has no selector (the
//! API server creates it at the tenth address of the service range, as kubeadm and k3s do),
//! and each node names its own DNS server in an EndpointSlice of it, `kube-dns-<node>`,
//! owned by its Node (so the garbage collector removes it with the Node) and withdrawn when
//! the agent stops. The service proxy sends the Service's address to these endpoints.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Client};

use crate::records::{KUBE_DNS, SERVICE_NAME_LABEL};

/// The `endpointslice.kubernetes.io/managed-by` of the nodes' slices (not the EndpointSlice
/// controller's, which leaves them alone).
pub const MANAGED_BY: &str = "dns.krust.dev";
/// The field manager of the slices' server-side apply.
const FIELD_MANAGER: &str = "krust-node-dns";

/// The name of `node`'s slice.
pub fn slice_name(node: &str) -> String {
    format!("{}-{node}", KUBE_DNS.1)
}

/// The EndpointSlice naming `node`'s DNS server at `ip` (port 53, UDP and TCP), owned by the
/// Node of uid `node_uid` when given.
pub fn endpoint_slice(node: &str, node_uid: Option<&str>, ip: IpAddr) -> EndpointSlice {
    let port = |name: &str, protocol: &str| EndpointPort {
        name: Some(name.into()),
        port: Some(53),
        protocol: Some(protocol.into()),
        app_protocol: None,
    };
    EndpointSlice {
        metadata: ObjectMeta {
            name: Some(slice_name(node)),
            namespace: Some(KUBE_DNS.0.into()),
            labels: Some(
                [
                    (SERVICE_NAME_LABEL.to_string(), KUBE_DNS.1.to_string()),
                    (
                        "endpointslice.kubernetes.io/managed-by".to_string(),
                        MANAGED_BY.to_string(),
                    ),
                    ("k8s-app".to_string(), KUBE_DNS.1.to_string()),
                ]
                .into(),
            ),
            owner_references: node_uid.map(|uid| {
                vec![OwnerReference {
                    api_version: "v1".into(),
                    kind: "Node".into(),
                    name: node.into(),
                    uid: uid.into(),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        },
        address_type: if ip.is_ipv4() { "IPv4" } else { "IPv6" }.into(),
        endpoints: vec![Endpoint {
            addresses: vec![ip.to_string()],
            conditions: Some(EndpointConditions {
                ready: Some(true),
                serving: Some(true),
                terminating: Some(false),
            }),
            node_name: Some(node.into()),
            ..Default::default()
        }],
        ports: Some(vec![port("dns", "UDP"), port("dns-tcp", "TCP")]),
    }
}

/// Writes `node`'s slice (server-side apply, so a restart with a new address replaces it).
pub async fn publish(client: &Client, node: &str, ip: IpAddr) -> kube::Result<()> {
    let uid = Api::<Node>::all(client.clone())
        .get_opt(node)
        .await?
        .and_then(|n| n.metadata.uid);
    let slice = endpoint_slice(node, uid.as_deref(), ip);
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), KUBE_DNS.0);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(&slice_name(node), &params, &Patch::Apply(&slice))
        .await
        .map(|_| ())
}

/// The address `node`'s slice names, if it exists.
pub async fn published(client: &Client, node: &str) -> kube::Result<Option<IpAddr>> {
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), KUBE_DNS.0);
    Ok(api
        .get_opt(&slice_name(node))
        .await?
        .and_then(|s| s.endpoints.first()?.addresses.first()?.parse().ok()))
}

/// Removes `node`'s slice.
pub async fn withdraw(client: &Client, node: &str) -> kube::Result<()> {
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), KUBE_DNS.0);
    match api
        .delete(&slice_name(node), &DeleteParams::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}
