//! The fixed cluster roles krust grants, as data: each is one of Kubernetes' bootstrap
//! ClusterRoles (`plugin/pkg/auth/authorizer/rbac/bootstrappolicy`) bound to one group, so
//! that deciding a request ([`allowing`]) and listing what a user may do (a
//! SelfSubjectRulesReview, [`rules_of`]) read the same rules. Rules match as RBAC's do
//! (`*` for any verb, group, resource or path; a path ending in `*` is a prefix).

use super::Attributes;
use crate::tokens::oidc;

/// An RBAC `PolicyRule` on resources (`resource` or `resource/subresource`).
pub struct ResourceRule {
    pub verbs: &'static [&'static str],
    pub groups: &'static [&'static str],
    pub resources: &'static [&'static str],
}

/// An RBAC `PolicyRule` on non-resource paths.
pub struct PathRule {
    pub verbs: &'static [&'static str],
    pub paths: &'static [&'static str],
}

/// A ClusterRole and the group its ClusterRoleBinding (named alike) binds it to.
pub struct Role {
    pub name: &'static str,
    pub group: &'static str,
    pub resources: &'static [ResourceRule],
    pub paths: &'static [PathRule],
}

const AUTHENTICATED: &str = "system:authenticated";

/// Every role krust grants, by group.
pub static ROLES: &[Role] = &[
    Role {
        name: "cluster-admin",
        group: "system:masters",
        resources: &[ResourceRule {
            verbs: &["*"],
            groups: &["*"],
            resources: &["*"],
        }],
        paths: &[PathRule {
            verbs: &["*"],
            paths: &["*"],
        }],
    },
    Role {
        name: "system:discovery",
        group: AUTHENTICATED,
        resources: &[],
        paths: &[PathRule {
            verbs: &["get"],
            paths: &[
                "/api",
                "/api/*",
                "/apis",
                "/apis/*",
                "/openapi",
                "/openapi/*",
                "/version",
                "/version/",
            ],
        }],
    },
    Role {
        name: "system:public-info-viewer",
        group: AUTHENTICATED,
        resources: &[],
        paths: &[PathRule {
            verbs: &["get"],
            paths: &["/healthz", "/livez", "/readyz", "/version", "/version/"],
        }],
    },
    Role {
        name: "system:service-account-issuer-discovery",
        group: AUTHENTICATED,
        resources: &[],
        paths: &[PathRule {
            verbs: &["get"],
            paths: &[oidc::CONFIGURATION, oidc::JWKS],
        }],
    },
    Role {
        name: "system:basic-user",
        group: AUTHENTICATED,
        resources: &[
            ResourceRule {
                verbs: &["create"],
                groups: &["authentication.k8s.io"],
                resources: &["selfsubjectreviews"],
            },
            ResourceRule {
                verbs: &["create"],
                groups: &["authorization.k8s.io"],
                resources: &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
            },
        ],
        paths: &[],
    },
    Role {
        name: "system:node-bootstrapper",
        group: "system:bootstrappers",
        resources: &[ResourceRule {
            verbs: &["create", "get", "list", "watch"],
            groups: &["certificates.k8s.io"],
            resources: &["certificatesigningrequests"],
        }],
        paths: &[],
    },
];

fn matches(allowed: &[&str], value: &str) -> bool {
    allowed.iter().any(|a| *a == "*" || *a == value)
}

fn path_matches(allowed: &[&str], path: &str) -> bool {
    allowed.iter().any(|a| match a.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => *a == path,
    })
}

impl Role {
    /// Whether this role's rules allow `a`.
    pub fn allows(&self, a: &Attributes) -> bool {
        match &a.group {
            Some(group) => self.resources.iter().any(|r| {
                matches(r.verbs, &a.verb)
                    && matches(r.groups, group)
                    && matches(r.resources, &a.full_resource())
            }),
            None => self
                .paths
                .iter()
                .any(|r| matches(r.verbs, &a.verb) && path_matches(r.paths, &a.path)),
        }
    }

    /// RBAC's reason for an allowed request.
    pub fn reason(&self) -> String {
        format!(
            "RBAC: allowed by ClusterRoleBinding {:?} of ClusterRole {:?} to Group {:?}",
            self.name, self.name, self.group
        )
    }
}

/// The first role bound to one of `groups` that allows `a`.
pub fn allowing(groups: &[String], a: &Attributes) -> Option<&'static Role> {
    ROLES
        .iter()
        .find(|r| groups.iter().any(|g| g == r.group) && r.allows(a))
}

/// The roles bound to one of `groups`.
pub fn rules_of(groups: &[String]) -> impl Iterator<Item = &'static Role> {
    ROLES
        .iter()
        .filter(move |r| groups.iter().any(|g| g == r.group))
}
