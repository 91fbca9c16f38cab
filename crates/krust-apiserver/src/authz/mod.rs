//! Authorization: who may do what, decided from the request's attributes as Kubernetes'
//! `RequestInfoFactory` derives them (verb, API group, resource, subresource, namespace,
//! name). RBAC is not there yet; the rules are fixed and few (`roles.rs` holds them as RBAC
//! rules, `node.rs` the Node authorizer's), and `review.rs` answers the authorization.k8s.io
//! reviews (`kubectl auth can-i`) from them:
//!
//! - `system:masters` may do everything;
//! - every authenticated user may read discovery and OpenAPI (`system:discovery`), the
//!   service account issuer's documents (`system:service-account-issuer-discovery`) and ask
//!   who it is and what it may do (SelfSubjectReview, SelfSubjectAccessReview and
//!   SelfSubjectRulesReview: `system:basic-user`);
//! - bootstrappers (`system:bootstrappers`) may create, get, list and watch
//!   CertificateSigningRequests (`system:node-bootstrapper`);
//! - nodes (`system:node:<name>` in `system:nodes`) get what a kubelet needs, as the Node
//!   authorizer with the `system:node` role grants it: their Node and its status, their
//!   Lease in `kube-node-lease`, pods and `pods/status`, Events, CSRs, service account tokens
//!   for its pods, reads of the objects pods use, TokenReviews and SubjectAccessReviews (the
//!   kubelet's webhook authentication and authorization); and what krust's node agent adds to the
//!   kubelet: the cluster DNS's EndpointSlice `kube-system/kube-dns-<node>`, and ServiceLB's
//!   `services/status`. Looser than Kubernetes: a node may read every Secret and ConfigMap
//!   (Kubernetes: only those its pods reference), update the status of any pod (NodeRestriction
//!   admission limits it to pods bound to it) and create any Node or Lease (admission
//!   checks the name).
//!
//! Everything else is 403 with Kubernetes' message.

mod node;
mod review;
mod roles;

pub use review::{access_review, rules_review};

use crate::auth::Identity;
use http::Method;

/// What a request asks to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attributes {
    pub verb: String,
    /// Resource requests: the API group (`""` for core), else `None` (a path like `/api`).
    pub group: Option<String>,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    pub path: String,
}

impl Attributes {
    /// The attributes of a request (`RequestInfoFactory.NewRequestInfo`).
    pub fn of(method: &Method, path: &str, query: Option<&str>) -> Attributes {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut a = Attributes {
            verb: method.as_str().to_lowercase(),
            group: None,
            resource: String::new(),
            subresource: String::new(),
            namespace: String::new(),
            name: String::new(),
            path: path.to_string(),
        };
        let (group, mut rest) = match segments.as_slice() {
            ["api", _version, rest @ ..] if !rest.is_empty() => ("", rest),
            ["apis", group, _version, rest @ ..] if !rest.is_empty() => (*group, rest),
            _ => return a,
        };
        a.group = Some(group.to_string());
        let mut watch_prefix = false;
        if rest.first() == Some(&"watch") {
            watch_prefix = true;
            rest = &rest[1..];
        }
        if rest.first() == Some(&"namespaces") && rest.len() >= 2 {
            a.namespace = rest[1].to_string();
            if rest.len() == 2 {
                a.resource = "namespaces".into();
                a.name = rest[1].to_string();
                rest = &[];
            } else {
                rest = &rest[2..];
            }
        }
        if let Some(r) = rest.first() {
            a.resource = r.to_string();
        }
        if let Some(n) = rest.get(1) {
            a.name = n.to_string();
        }
        if let Some(s) = rest.get(2) {
            a.subresource = s.to_string();
        }
        let watch = watch_prefix
            || query.is_some_and(|q| {
                q.split('&')
                    .any(|p| p == "watch=true" || p == "watch=1" || p == "watch")
            });
        a.verb = match (method.as_str(), a.name.is_empty()) {
            ("GET" | "HEAD", _) if watch => "watch",
            ("GET" | "HEAD", true) => "list",
            ("GET" | "HEAD", false) => "get",
            ("POST", _) => "create",
            ("PUT", _) => "update",
            ("PATCH", _) => "patch",
            ("DELETE", true) => "deletecollection",
            ("DELETE", false) => "delete",
            (other, _) => {
                return Attributes {
                    verb: other.to_lowercase(),
                    ..a
                };
            }
        }
        .to_string();
        a
    }

    /// A resource request (a SubjectAccessReview's `resourceAttributes`).
    pub fn resource(
        verb: &str,
        group: &str,
        resource: &str,
        subresource: &str,
        namespace: &str,
        name: &str,
    ) -> Attributes {
        Attributes {
            verb: verb.into(),
            group: Some(group.into()),
            resource: resource.into(),
            subresource: subresource.into(),
            namespace: namespace.into(),
            name: name.into(),
            path: String::new(),
        }
    }

    /// A non-resource request (`nonResourceAttributes`).
    pub fn non_resource(verb: &str, path: &str) -> Attributes {
        Attributes {
            verb: verb.into(),
            group: None,
            resource: String::new(),
            subresource: String::new(),
            namespace: String::new(),
            name: String::new(),
            path: path.into(),
        }
    }

    /// `pods` or `pods/status`.
    fn full_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

fn one_of(verb: &str, verbs: &[&str]) -> bool {
    verbs.contains(&verb)
}

/// An authorizer's answer, as Kubernetes' `authorizer.Decision` with its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Why (RBAC names the binding that allowed it); empty when nothing did.
    pub reason: String,
}

/// What the authorizers (the fixed roles, then the Node authorizer) say of `who` doing `what`.
pub fn decide(who: &Identity, what: &Attributes) -> Decision {
    if let Some(role) = roles::allowing(&who.groups, what) {
        return Decision {
            allowed: true,
            reason: role.reason(),
        };
    }
    let allowed = node::node_of(&who.user, &who.groups).is_some_and(|n| node::node_may(n, what));
    Decision {
        allowed,
        reason: String::new(),
    }
}

/// Whether `who` may do `what`.
pub fn allowed(who: &Identity, what: &Attributes) -> bool {
    decide(who, what).allowed
}

/// The message of Kubernetes' 403 (`forbiddenMessage`).
pub fn forbidden_message(who: &Identity, a: &Attributes) -> String {
    let user = &who.user;
    let Some(group) = &a.group else {
        return format!(
            "forbidden: User {user:?} cannot {} path {:?}",
            a.verb, a.path
        );
    };
    let resource = a.full_resource();
    let qualified = if group.is_empty() {
        a.resource.clone()
    } else {
        format!("{}.{group}", a.resource)
    };
    let subject = if a.name.is_empty() {
        format!("{qualified} is forbidden")
    } else {
        format!("{qualified} {:?} is forbidden", a.name)
    };
    let scope = if a.namespace.is_empty() {
        "at the cluster scope".to_string()
    } else {
        format!("in the namespace {:?}", a.namespace)
    };
    format!(
        "{subject}: User {user:?} cannot {} resource {resource:?} in API group {group:?} {scope}",
        a.verb
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(user: &str, groups: &[&str]) -> Identity {
        let mut groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        groups.push("system:authenticated".into());
        Identity {
            user: user.into(),
            groups,
            ..Identity::default()
        }
    }

    fn may(id: &Identity, method: Method, path: &str) -> bool {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        allowed(id, &Attributes::of(&method, path, Some(query)))
    }

    #[test]
    fn attributes_follow_the_request_info_of_kubernetes() {
        let a = Attributes::of(
            &Method::PATCH,
            "/api/v1/namespaces/default/pods/p/status",
            None,
        );
        assert_eq!(
            (
                a.verb.as_str(),
                a.group.as_deref(),
                a.resource.as_str(),
                a.subresource.as_str()
            ),
            ("patch", Some(""), "pods", "status")
        );
        assert_eq!((a.namespace.as_str(), a.name.as_str()), ("default", "p"));
        let w = Attributes::of(
            &Method::GET,
            "/apis/coordination.k8s.io/v1/leases",
            Some("watch=1"),
        );
        assert_eq!((w.verb.as_str(), w.resource.as_str()), ("watch", "leases"));
        let ns = Attributes::of(&Method::GET, "/api/v1/namespaces/kube-system", None);
        assert_eq!(
            (ns.verb.as_str(), ns.resource.as_str(), ns.name.as_str()),
            ("get", "namespaces", "kube-system")
        );
        assert_eq!(Attributes::of(&Method::GET, "/apis", None).group, None);
    }

    #[test]
    fn bootstrappers_may_only_request_certificates() {
        let b = who("system:bootstrap:abcdef", &["system:bootstrappers"]);
        let csrs = "/apis/certificates.k8s.io/v1/certificatesigningrequests";
        assert!(may(&b, Method::POST, csrs));
        assert!(may(&b, Method::GET, &format!("{csrs}?watch=true")));
        assert!(may(&b, Method::GET, &format!("{csrs}/node-csr-1")));
        assert!(!may(
            &b,
            Method::PUT,
            &format!("{csrs}/node-csr-1/approval")
        ));
        assert!(!may(&b, Method::DELETE, &format!("{csrs}/node-csr-1")));
        assert!(!may(&b, Method::GET, "/api/v1/namespaces/default/pods"));
        assert!(!may(&b, Method::GET, "/api/v1/nodes"));
        assert!(may(&b, Method::GET, "/apis"));
        assert!(!may(&b, Method::GET, "/metrics"));
    }

    #[test]
    fn a_node_may_write_its_own_node_and_lease_only() {
        let n = who("system:node:n1", &["system:nodes"]);
        assert!(may(&n, Method::PATCH, "/api/v1/nodes/n1/status"));
        assert!(!may(&n, Method::PATCH, "/api/v1/nodes/n2/status"));
        assert!(may(&n, Method::GET, "/api/v1/nodes?watch=true"));
        assert!(!may(&n, Method::DELETE, "/api/v1/nodes/n1"));
        let lease = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";
        assert!(may(&n, Method::PUT, &format!("{lease}/n1")));
        assert!(!may(&n, Method::PUT, &format!("{lease}/n2")));
        assert!(!may(
            &n,
            Method::PUT,
            "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler"
        ));
        assert!(may(
            &n,
            Method::PATCH,
            "/api/v1/namespaces/default/pods/p/status"
        ));
        assert!(may(&n, Method::POST, "/api/v1/namespaces/default/events"));
        assert!(may(&n, Method::GET, "/api/v1/namespaces/default/secrets/s"));
        assert!(!may(&n, Method::POST, "/api/v1/namespaces/default/secrets"));
        assert!(!may(&n, Method::POST, "/api/v1/namespaces/default/pods"));
        assert!(!may(
            &n,
            Method::PUT,
            "/apis/certificates.k8s.io/v1/certificatesigningrequests/c/approval"
        ));
        let impostor = who("system:node:n1", &[]);
        assert!(!may(&impostor, Method::GET, "/api/v1/nodes"));
    }

    #[test]
    fn everyone_may_ask_what_it_may_do_and_nodes_may_ask_for_others() {
        let sa = who("system:serviceaccount:d:x", &["system:serviceaccounts"]);
        let reviews = "/apis/authorization.k8s.io/v1";
        assert!(may(
            &sa,
            Method::POST,
            &format!("{reviews}/selfsubjectaccessreviews")
        ));
        assert!(may(
            &sa,
            Method::POST,
            &format!("{reviews}/selfsubjectrulesreviews")
        ));
        assert!(!may(
            &sa,
            Method::POST,
            &format!("{reviews}/subjectaccessreviews")
        ));
        let n = who("system:node:n1", &["system:nodes"]);
        assert!(may(
            &n,
            Method::POST,
            &format!("{reviews}/subjectaccessreviews")
        ));
        assert!(may(
            &n,
            Method::POST,
            "/apis/authentication.k8s.io/v1/tokenreviews"
        ));
        let admin = who("admin", &["system:masters"]);
        let pods = Attributes::of(&Method::GET, "/api/v1/pods", None);
        assert_eq!(
            decide(&admin, &pods).reason,
            "RBAC: allowed by ClusterRoleBinding \"cluster-admin\" of ClusterRole \"cluster-admin\" to Group \"system:masters\""
        );
        assert_eq!(
            decide(&sa, &pods),
            Decision {
                allowed: false,
                reason: String::new()
            }
        );
    }

    #[test]
    fn refusals_read_as_kubernetes_writes_them() {
        let b = who("system:bootstrap:abcdef", &["system:bootstrappers"]);
        let a = Attributes::of(&Method::GET, "/api/v1/namespaces/default/pods", None);
        assert_eq!(
            forbidden_message(&b, &a),
            "pods is forbidden: User \"system:bootstrap:abcdef\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
        );
        let a = Attributes::of(&Method::PATCH, "/api/v1/nodes/n2/status", None);
        assert_eq!(
            forbidden_message(&b, &a),
            "nodes \"n2\" is forbidden: User \"system:bootstrap:abcdef\" cannot patch resource \"nodes/status\" in API group \"\" at the cluster scope"
        );
        let a = Attributes::of(&Method::GET, "/metrics", None);
        assert_eq!(
            forbidden_message(&b, &a),
            "forbidden: User \"system:bootstrap:abcdef\" cannot get path \"/metrics\""
        );
    }
}
