//! The resource table: every served resource described once.
//!
//! Discovery, OpenAPI, routing, storage keys and printing are all derived from this table.
//! Custom resources are entries made at run time from CustomResourceDefinitions
//! ([`crate::custom`]); the server keeps them beside this static part.

use crate::custom::Custom;

/// A subresource of a served resource.
#[derive(Debug, PartialEq)]
pub struct Subresource {
    /// Path segment, e.g. `status`.
    pub name: &'static str,
    /// Group, version and kind of what the subresource answers with.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub verbs: &'static [&'static str],
}

/// One served resource (one group/version/plural).
#[derive(Debug, PartialEq)]
pub struct Resource {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub namespaced: bool,
    pub subresources: &'static [Subresource],
    /// Where objects live in the store: `/registry/<storage>/…`. Two resources sharing a
    /// storage prefix (core and events.k8s.io events) are two views of the same objects.
    pub storage: &'static str,
    /// Whether `spec` and `status` are split: writes to the main resource ignore `status`,
    /// `/status` writes touch only `status`.
    pub has_status: bool,
    /// What a custom resource adds (from its CustomResourceDefinition); `None` for the
    /// built-in kinds, whose rules are keyed by their kind.
    pub custom: Option<&'static Custom>,
}

/// The verbs every served resource supports.
pub const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

macro_rules! sub {
    ($name:literal, $group:literal, $version:literal, $kind:literal, $verbs:expr) => {
        Subresource {
            name: $name,
            group: $group,
            version: $version,
            kind: $kind,
            verbs: $verbs,
        }
    };
}

const ALL: &[&str] = &["all"];

/// Every served resource, in discovery order (which is also the order `kubectl get all` uses).
#[rustfmt::skip]
pub static RESOURCES: &[Resource] = &[
    Resource {
        group: "", version: "v1", kind: "Pod", plural: "pods", singular: "pod",
        short_names: &["po"], categories: ALL, namespaced: true, storage: "pods", has_status: true,
        subresources: &[
            sub!("attach", "", "v1", "PodAttachOptions", &["create", "get"]),
            sub!("binding", "", "v1", "Binding", &["create"]),
            sub!("ephemeralcontainers", "", "v1", "Pod", STATUS_VERBS),
            sub!("exec", "", "v1", "PodExecOptions", &["create", "get"]),
            sub!("log", "", "v1", "Pod", &["get"]),
            sub!("portforward", "", "v1", "PodPortForwardOptions", &["create", "get"]),
            sub!("status", "", "v1", "Pod", STATUS_VERBS),
        ],
        custom: None,
    },
    Resource {
        group: "", version: "v1", kind: "Service", plural: "services", singular: "service",
        short_names: &["svc"], categories: ALL, namespaced: true, storage: "services/specs", has_status: true,
        subresources: &[sub!("status", "", "v1", "Service", STATUS_VERBS)],
        custom: None,
    },
    Resource {
        group: "", version: "v1", kind: "Binding", plural: "bindings", singular: "binding",
        short_names: &[], categories: &[], namespaced: true, storage: "bindings", has_status: false,
        subresources: &[],
        custom: None,
    },
    Resource {
        group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", singular: "configmap",
        short_names: &["cm"], categories: &[], namespaced: true, storage: "configmaps", has_status: false,
        subresources: &[],
        custom: None,
    },
    Resource {
        group: "", version: "v1", kind: "Endpoints", plural: "endpoints", singular: "endpoints",
        short_names: &["ep"], categories: &[], namespaced: true, storage: "services/endpoints", has_status: false,
        subresources: &[],
        custom: None,
    },
    Resource {
        group: "", version: "v1", kind: "Event", plural: "events", singular: "event",
        short_names: &["ev"], categories: &[], namespaced: true, storage: "events", has_status: false,
        subresources: &[],
        custom: None,
    },
    Resource {
        group: "", version: "v1", kind: "Namespace", plural: "namespaces", singular: "namespace",
        short_names: &["ns"], categories: &[], namespaced: false, storage: "namespaces", has_status: true,
        subresources: &[
            sub!("finalize", "", "v1", "Namespace", &["update"]),
            sub!("status", "", "v1", "Namespace", STATUS_VERBS),
        ],
        custom: None,
    },
    Resource {
        group: "", version: "v1", kind: "Node", plural: "nodes", singular: "node",
        short_names: &["no"], categories: &[], namespaced: false, storage: "minions", has_status: true,
        subresources: &[sub!("status", "", "v1", "Node", STATUS_VERBS)],
        custom: None,
    },
    Resource {
        group: "", version: "v1", kind: "Secret", plural: "secrets", singular: "secret",
        short_names: &[], categories: &[], namespaced: true, storage: "secrets", has_status: false,
        subresources: &[],
        custom: None,
    },
    Resource {
        group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", singular: "serviceaccount",
        short_names: &["sa"], categories: &[], namespaced: true, storage: "serviceaccounts", has_status: false,
        subresources: &[sub!("token", "authentication.k8s.io", "v1", "TokenRequest", &["create"])],
        custom: None,
    },
    Resource {
        group: "apps", version: "v1", kind: "Deployment", plural: "deployments", singular: "deployment",
        short_names: &["deploy"], categories: ALL, namespaced: true, storage: "deployments", has_status: true,
        subresources: &[
            sub!("scale", "autoscaling", "v1", "Scale", STATUS_VERBS),
            sub!("status", "apps", "v1", "Deployment", STATUS_VERBS),
        ],
        custom: None,
    },
    Resource {
        group: "apps", version: "v1", kind: "ReplicaSet", plural: "replicasets", singular: "replicaset",
        short_names: &["rs"], categories: ALL, namespaced: true, storage: "replicasets", has_status: true,
        subresources: &[
            sub!("scale", "autoscaling", "v1", "Scale", STATUS_VERBS),
            sub!("status", "apps", "v1", "ReplicaSet", STATUS_VERBS),
        ],
        custom: None,
    },
    Resource {
        group: "authentication.k8s.io", version: "v1", kind: "SelfSubjectReview", plural: "selfsubjectreviews",
        singular: "selfsubjectreview", short_names: &[], categories: &[], namespaced: false,
        storage: "selfsubjectreviews", has_status: true, subresources: &[],
        custom: None,
    },
    Resource {
        group: "authentication.k8s.io", version: "v1", kind: "TokenReview", plural: "tokenreviews",
        singular: "tokenreview", short_names: &[], categories: &[], namespaced: false,
        storage: "tokenreviews", has_status: true, subresources: &[],
        custom: None,
    },
    Resource {
        group: "authorization.k8s.io", version: "v1", kind: "LocalSubjectAccessReview",
        plural: "localsubjectaccessreviews", singular: "localsubjectaccessreview", short_names: &[],
        categories: &[], namespaced: true, storage: "localsubjectaccessreviews", has_status: true,
        subresources: &[],
        custom: None,
    },
    Resource {
        group: "authorization.k8s.io", version: "v1", kind: "SelfSubjectAccessReview",
        plural: "selfsubjectaccessreviews", singular: "selfsubjectaccessreview", short_names: &[],
        categories: &[], namespaced: false, storage: "selfsubjectaccessreviews", has_status: true,
        subresources: &[],
        custom: None,
    },
    Resource {
        group: "authorization.k8s.io", version: "v1", kind: "SelfSubjectRulesReview",
        plural: "selfsubjectrulesreviews", singular: "selfsubjectrulesreview", short_names: &[],
        categories: &[], namespaced: false, storage: "selfsubjectrulesreviews", has_status: true,
        subresources: &[],
        custom: None,
    },
    Resource {
        group: "authorization.k8s.io", version: "v1", kind: "SubjectAccessReview",
        plural: "subjectaccessreviews", singular: "subjectaccessreview", short_names: &[],
        categories: &[], namespaced: false, storage: "subjectaccessreviews", has_status: true,
        subresources: &[],
        custom: None,
    },
    Resource {
        group: "certificates.k8s.io", version: "v1", kind: "CertificateSigningRequest",
        plural: "certificatesigningrequests", singular: "certificatesigningrequest",
        short_names: &["csr"], categories: &[], namespaced: false,
        storage: "certificatesigningrequests", has_status: true,
        subresources: &[
            sub!("approval", "certificates.k8s.io", "v1", "CertificateSigningRequest", STATUS_VERBS),
            sub!("status", "certificates.k8s.io", "v1", "CertificateSigningRequest", STATUS_VERBS),
        ],
        custom: None,
    },
    Resource {
        group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", singular: "lease",
        short_names: &[], categories: &[], namespaced: true, storage: "leases", has_status: false,
        subresources: &[],
        custom: None,
    },
    Resource {
        group: "discovery.k8s.io", version: "v1", kind: "EndpointSlice", plural: "endpointslices",
        singular: "endpointslice", short_names: &[], categories: &[], namespaced: true,
        storage: "endpointslices", has_status: false, subresources: &[],
        custom: None,
    },
    Resource {
        group: "events.k8s.io", version: "v1", kind: "Event", plural: "events", singular: "event",
        short_names: &["ev"], categories: &[], namespaced: true, storage: "events", has_status: false,
        subresources: &[],
        custom: None,
    },
    Resource {
        group: "networking.k8s.io", version: "v1", kind: "NetworkPolicy", plural: "networkpolicies",
        singular: "networkpolicy", short_names: &["netpol"], categories: &[], namespaced: true,
        storage: "networkpolicies", has_status: false, subresources: &[],
        custom: None,
    },
    Resource {
        group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition",
        plural: "customresourcedefinitions", singular: "customresourcedefinition",
        short_names: &["crd", "crds"], categories: &["api-extensions"], namespaced: false,
        storage: "apiextensions.k8s.io/customresourcedefinitions", has_status: true,
        subresources: &[sub!("status", "apiextensions.k8s.io", "v1", "CustomResourceDefinition", STATUS_VERBS)],
        custom: None,
    },
];

impl Resource {
    /// `v1` for the core group, `apps/v1` otherwise.
    pub fn api_version(&self) -> String {
        group_version(self.group, self.version)
    }

    /// The kind whose built-in rules (defaults, validation, write hooks) apply: the kind of a
    /// built-in resource, `""` for a custom one (a custom `Pod` of another group follows none
    /// of the core Pod's rules).
    pub fn builtin_kind(&self) -> &'static str {
        if self.custom.is_some() { "" } else { self.kind }
    }

    /// The `apiVersion` its objects are stored with: a custom resource's storage version
    /// (all its versions share one storage), else [`Resource::api_version`].
    pub fn storage_api_version(&self) -> String {
        match self.custom {
            Some(c) => group_version(self.group, &c.storage_version),
            None => self.api_version(),
        }
    }

    /// The list kind, e.g. `PodList`.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// `pods` for the core group, `deployments.apps` otherwise (as Kubernetes names
    /// resources in messages).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The store key prefix of all objects (of one namespace, if given).
    pub fn key_prefix(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("/registry/{}/{ns}/", self.storage),
            _ => format!("/registry/{}/", self.storage),
        }
    }

    /// The store key of one object.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        format!("{}{name}", self.key_prefix(namespace))
    }

    /// The subresource called `name`, if served.
    pub fn subresource(&self, name: &str) -> Option<&'static Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }

    /// Whether clients may list, watch, read or change its objects: not so for the kinds
    /// that are only ever created and never stored (bindings, reviews), as in Kubernetes.
    pub fn is_listable(&self) -> bool {
        !matches!(
            self.plural,
            "bindings"
                | "selfsubjectreviews"
                | "tokenreviews"
                | "localsubjectaccessreviews"
                | "selfsubjectaccessreviews"
                | "selfsubjectrulesreviews"
                | "subjectaccessreviews"
        )
    }
}

/// `v1` for the core group, `group/version` otherwise.
pub fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// Finds a resource by group, version and plural.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Finds a resource by apiVersion and kind.
pub fn find_kind(api_version: &str, kind: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.api_version() == api_version && r.kind == kind)
}

/// The API groups of `resources`, in their order, each with its versions in their order
/// (a custom group's preferred version first).
pub fn groups<'a>(
    resources: impl IntoIterator<Item = &'a Resource>,
) -> Vec<(&'a str, Vec<&'a str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for r in resources {
        match out.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, versions)) if !versions.contains(&r.version) => versions.push(r.version),
            Some(_) => {}
            None => out.push((r.group, vec![r.version])),
        }
    }
    out
}

/// Every group-version of `resources`, in their order.
pub fn group_versions<'a>(
    resources: impl IntoIterator<Item = &'a Resource>,
) -> Vec<(&'a str, &'a str)> {
    let groups = groups(resources).into_iter();
    groups
        .flat_map(|(g, versions)| versions.into_iter().map(move |v| (g, v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_kubernetes_layout() {
        let pods = find("", "v1", "pods").unwrap();
        assert_eq!(
            pods.key(Some("default"), "nginx"),
            "/registry/pods/default/nginx"
        );
        let nodes = find("", "v1", "nodes").unwrap();
        assert_eq!(nodes.key(Some("ignored"), "n1"), "/registry/minions/n1");
        assert_eq!(
            find_kind("apps/v1", "Deployment").unwrap().qualified(),
            "deployments.apps"
        );
    }

    #[test]
    fn both_event_apis_share_storage() {
        let core = find("", "v1", "events").unwrap();
        let new = find("events.k8s.io", "v1", "events").unwrap();
        assert_eq!(core.key_prefix(None), new.key_prefix(None));
    }
}
