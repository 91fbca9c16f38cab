//! What a node may do: the Node authorizer's answers with the `system:node` ClusterRole's
//! rules (`plugin/pkg/auth/authorizer/node`, `bootstrappolicy.NodeRules`), narrowed where that
//! is cheap (its own Node and Lease), and what krust's node agent adds to the kubelet: the
//! cluster DNS's EndpointSlice `kube-system/kube-dns-<node>`, ServiceLB's `services/status`
//! and the policy engine's read of NetworkPolicies.

use super::{Attributes, one_of};

const READ: &[&str] = &["get", "list", "watch"];

/// The node a user is, when it is one (`system:node:<name>` in `system:nodes`).
pub fn node_of<'a>(user: &'a str, groups: &[String]) -> Option<&'a str> {
    let node = user.strip_prefix("system:node:")?;
    (!node.is_empty() && groups.iter().any(|g| g == "system:nodes")).then_some(node)
}

/// Whether node `node` may do `a`.
pub fn node_may(node: &str, a: &Attributes) -> bool {
    let Some(group) = &a.group else {
        return false;
    };
    let verb = a.verb.as_str();
    let own = a.name == node;
    match (group.as_str(), a.full_resource().as_str()) {
        ("", "nodes") => {
            one_of(verb, READ) || verb == "create" || (own && one_of(verb, &["update", "patch"]))
        }
        ("", "nodes/status") => own && one_of(verb, &["get", "update", "patch"]),
        ("", "pods") => one_of(verb, READ) || verb == "delete",
        ("", "pods/status") => one_of(verb, &["get", "update", "patch"]),
        ("", "serviceaccounts") => verb == "get",
        ("", "serviceaccounts/token") => verb == "create",
        ("", "services/status") => one_of(verb, &["get", "update", "patch"]),
        // The kubelet's webhook authenticator and authorizer ask the API server.
        ("authentication.k8s.io", "tokenreviews")
        | ("authorization.k8s.io", "subjectaccessreviews" | "localsubjectaccessreviews") => {
            verb == "create"
        }
        ("certificates.k8s.io", "certificatesigningrequests") => {
            one_of(verb, &["create", "get", "list", "watch"])
        }
        // A create names its object in the body only: any slice in kube-system (looser).
        ("discovery.k8s.io", "endpointslices")
            if a.namespace == "kube-system"
                && (a.name == format!("kube-dns-{node}")
                    || a.name.is_empty() && verb == "create") =>
        {
            one_of(verb, &["create", "update", "patch", "delete"]) || one_of(verb, READ)
        }
        ("", "events") | ("events.k8s.io", "events") => {
            one_of(verb, &["create", "update", "patch"])
        }
        ("", "services" | "endpoints" | "configmaps" | "secrets" | "namespaces")
        | ("discovery.k8s.io", "endpointslices")
        // The node's network policy controller (a CNI agent's own account in Kubernetes).
        | ("networking.k8s.io", "networkpolicies") => one_of(verb, READ),
        ("coordination.k8s.io", "leases") => {
            a.namespace == "kube-node-lease"
                && (verb == "create"
                    || (own && one_of(verb, &["get", "update", "patch", "delete"])))
        }
        _ => false,
    }
}
