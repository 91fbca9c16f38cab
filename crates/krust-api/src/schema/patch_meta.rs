//! The checked-in table of Kubernetes list/patch metadata for the served kinds.
//!
//! k8s-openapi's schemas carry no `x-kubernetes-*` extensions, so the facts Kubernetes keeps in
//! Go struct tags and `+listType` markers (k8s.io/api `core/v1/types.go`, `apps/v1/types.go`,
//! `discovery/v1/types.go` and k8s.io/apimachinery `meta/v1/types.go`) are written down here and
//! merged into the generated definitions. Every row names a property that must exist in the
//! generated schema (a unit test checks this).

/// One property's patch metadata, as Kubernetes declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchMetaRow {
    /// Short definition name: the part after `io.k8s.api.` or `io.k8s.apimachinery.pkg.apis.`.
    pub definition: &'static str,
    /// JSON property name.
    pub property: &'static str,
    /// `x-kubernetes-patch-strategy` (`merge`, `retainKeys`, `merge,retainKeys`).
    pub strategy: Option<&'static str>,
    /// `x-kubernetes-patch-merge-key`.
    pub merge_key: Option<&'static str>,
    /// `x-kubernetes-list-type` (`atomic`, `set`, `map`).
    pub list_type: Option<&'static str>,
    /// `x-kubernetes-list-map-keys` (only with list type `map`).
    pub map_keys: &'static [&'static str],
}

/// A list merged by key: `patchStrategy:"merge" patchMergeKey:<key>`, `+listType=map`.
const fn keyed(
    definition: &'static str,
    property: &'static str,
    key: &'static str,
    map_keys: &'static [&'static str],
) -> PatchMetaRow {
    PatchMetaRow {
        definition,
        property,
        strategy: Some("merge"),
        merge_key: Some(key),
        list_type: Some("map"),
        map_keys,
    }
}

/// Like [`keyed`] on `name`, with the `merge,retainKeys` strategy.
const fn keyed_retain(definition: &'static str, property: &'static str) -> PatchMetaRow {
    PatchMetaRow {
        strategy: Some("merge,retainKeys"),
        ..keyed(definition, property, "name", NAME)
    }
}

/// A struct field with the `retainKeys` strategy (`patchStrategy:"retainKeys"`).
const fn retain_keys(definition: &'static str, property: &'static str) -> PatchMetaRow {
    PatchMetaRow {
        definition,
        property,
        strategy: Some("retainKeys"),
        merge_key: None,
        list_type: None,
        map_keys: &[],
    }
}

/// A list without a patch strategy (replaced by strategic merge patch) of the given list type.
const fn typed(
    definition: &'static str,
    property: &'static str,
    list_type: &'static str,
) -> PatchMetaRow {
    PatchMetaRow {
        definition,
        property,
        strategy: None,
        merge_key: None,
        list_type: Some(list_type),
        map_keys: &[],
    }
}

/// A primitive list merged as a set: `patchStrategy:"merge"`, `+listType=set`.
const fn merged_set(definition: &'static str, property: &'static str) -> PatchMetaRow {
    PatchMetaRow {
        strategy: Some("merge"),
        ..typed(definition, property, "set")
    }
}

const NAME: &[&str] = &["name"];
const TYPE: &[&str] = &["type"];

/// Lists that Kubernetes merges (or types as map/set) in the served kinds.
pub const PATCH_META: &[PatchMetaRow] = &[
    // meta/v1
    merged_set("apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers"),
    keyed(
        "apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "ownerReferences",
        "uid",
        &["uid"],
    ),
    // core/v1 Pod
    keyed_retain("api.core.v1.PodSpec", "volumes"),
    keyed("api.core.v1.PodSpec", "initContainers", "name", NAME),
    keyed("api.core.v1.PodSpec", "containers", "name", NAME),
    keyed("api.core.v1.PodSpec", "ephemeralContainers", "name", NAME),
    keyed("api.core.v1.PodSpec", "imagePullSecrets", "name", NAME),
    keyed("api.core.v1.PodSpec", "hostAliases", "ip", &["ip"]),
    keyed(
        "api.core.v1.PodSpec",
        "topologySpreadConstraints",
        "topologyKey",
        &["topologyKey", "whenUnsatisfiable"],
    ),
    keyed("api.core.v1.PodSpec", "schedulingGates", "name", NAME),
    keyed_retain("api.core.v1.PodSpec", "resourceClaims"),
    keyed(
        "api.core.v1.Container",
        "ports",
        "containerPort",
        &["containerPort", "protocol"],
    ),
    keyed("api.core.v1.Container", "env", "name", NAME),
    keyed(
        "api.core.v1.Container",
        "volumeMounts",
        "mountPath",
        &["mountPath"],
    ),
    keyed(
        "api.core.v1.Container",
        "volumeDevices",
        "devicePath",
        &["devicePath"],
    ),
    keyed(
        "api.core.v1.EphemeralContainer",
        "ports",
        "containerPort",
        &["containerPort", "protocol"],
    ),
    keyed("api.core.v1.EphemeralContainer", "env", "name", NAME),
    keyed(
        "api.core.v1.EphemeralContainer",
        "volumeMounts",
        "mountPath",
        &["mountPath"],
    ),
    keyed(
        "api.core.v1.EphemeralContainer",
        "volumeDevices",
        "devicePath",
        &["devicePath"],
    ),
    typed("api.core.v1.ResourceRequirements", "claims", "map"),
    keyed("api.core.v1.PodStatus", "conditions", "type", TYPE),
    keyed("api.core.v1.PodStatus", "podIPs", "ip", &["ip"]),
    PatchMetaRow {
        list_type: Some("atomic"),
        map_keys: &[],
        ..keyed("api.core.v1.PodStatus", "hostIPs", "ip", &[])
    },
    keyed_retain("api.core.v1.PodStatus", "resourceClaimStatuses"),
    keyed(
        "api.core.v1.ContainerStatus",
        "volumeMounts",
        "mountPath",
        &["mountPath"],
    ),
    keyed(
        "api.core.v1.ContainerStatus",
        "allocatedResourcesStatus",
        "name",
        NAME,
    ),
    typed("api.core.v1.ResourceStatus", "resources", "map"),
    // core/v1 Service, ServiceAccount, Node, Namespace
    keyed(
        "api.core.v1.ServiceSpec",
        "ports",
        "port",
        &["port", "protocol"],
    ),
    keyed("api.core.v1.ServiceStatus", "conditions", "type", TYPE),
    keyed("api.core.v1.ServiceAccount", "secrets", "name", NAME),
    merged_set("api.core.v1.NodeSpec", "podCIDRs"),
    keyed("api.core.v1.NodeStatus", "conditions", "type", TYPE),
    keyed("api.core.v1.NodeStatus", "addresses", "type", TYPE),
    keyed("api.core.v1.NamespaceStatus", "conditions", "type", TYPE),
    // apps/v1
    retain_keys("api.apps.v1.DeploymentSpec", "strategy"),
    keyed("api.apps.v1.DeploymentStatus", "conditions", "type", TYPE),
    keyed("api.apps.v1.ReplicaSetStatus", "conditions", "type", TYPE),
    // certificates/v1 (`+listType=map`, no patch strategy)
    PatchMetaRow {
        strategy: None,
        merge_key: None,
        ..keyed(
            "api.certificates.v1.CertificateSigningRequestStatus",
            "conditions",
            "type",
            TYPE,
        )
    },
    // discovery/v1
    typed("api.discovery.v1.Endpoint", "addresses", "set"),
];

/// Lists Kubernetes marks `+listType=atomic` (replaced whole, by patches and by apply).
pub const ATOMIC_LISTS: &[(&str, &[&str])] = &[
    (
        "api.certificates.v1.CertificateSigningRequestSpec",
        &["groups", "usages"],
    ),
    (
        "apimachinery.pkg.apis.meta.v1.ObjectMeta",
        &["managedFields"],
    ),
    (
        "apimachinery.pkg.apis.meta.v1.LabelSelector",
        &["matchExpressions"],
    ),
    (
        "apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement",
        &["values"],
    ),
    ("apimachinery.pkg.apis.meta.v1.StatusDetails", &["causes"]),
    (
        "api.networking.v1.NetworkPolicySpec",
        &["ingress", "egress", "policyTypes"],
    ),
    (
        "api.networking.v1.NetworkPolicyIngressRule",
        &["ports", "from"],
    ),
    (
        "api.networking.v1.NetworkPolicyEgressRule",
        &["ports", "to"],
    ),
    ("api.networking.v1.IPBlock", &["except"]),
    ("apimachinery.pkg.apis.meta.v1.DeleteOptions", &["dryRun"]),
    ("api.core.v1.PodSpec", &["tolerations", "readinessGates"]),
    (
        "api.core.v1.Container",
        &["command", "args", "envFrom", "resizePolicy"],
    ),
    (
        "api.core.v1.EphemeralContainer",
        &["command", "args", "envFrom", "resizePolicy"],
    ),
    (
        "api.core.v1.PodStatus",
        &[
            "initContainerStatuses",
            "containerStatuses",
            "ephemeralContainerStatuses",
        ],
    ),
    (
        "api.core.v1.PodSecurityContext",
        &["supplementalGroups", "sysctls"],
    ),
    (
        "api.core.v1.PodDNSConfig",
        &["nameservers", "searches", "options"],
    ),
    ("api.core.v1.HostAlias", &["hostnames"]),
    ("api.core.v1.Capabilities", &["add", "drop"]),
    ("api.core.v1.ExecAction", &["command"]),
    ("api.core.v1.HTTPGetAction", &["httpHeaders"]),
    (
        "api.core.v1.NodeAffinity",
        &["preferredDuringSchedulingIgnoredDuringExecution"],
    ),
    ("api.core.v1.NodeSelector", &["nodeSelectorTerms"]),
    (
        "api.core.v1.NodeSelectorTerm",
        &["matchExpressions", "matchFields"],
    ),
    ("api.core.v1.NodeSelectorRequirement", &["values"]),
    (
        "api.core.v1.PodAffinity",
        &[
            "requiredDuringSchedulingIgnoredDuringExecution",
            "preferredDuringSchedulingIgnoredDuringExecution",
        ],
    ),
    (
        "api.core.v1.PodAntiAffinity",
        &[
            "requiredDuringSchedulingIgnoredDuringExecution",
            "preferredDuringSchedulingIgnoredDuringExecution",
        ],
    ),
    (
        "api.core.v1.PodAffinityTerm",
        &["namespaces", "matchLabelKeys", "mismatchLabelKeys"],
    ),
    ("api.core.v1.TopologySpreadConstraint", &["matchLabelKeys"]),
    ("api.core.v1.LinuxContainerUser", &["supplementalGroups"]),
    ("api.core.v1.ConfigMapVolumeSource", &["items"]),
    ("api.core.v1.SecretVolumeSource", &["items"]),
    ("api.core.v1.DownwardAPIVolumeSource", &["items"]),
    ("api.core.v1.ProjectedVolumeSource", &["sources"]),
    ("api.core.v1.ConfigMapProjection", &["items"]),
    ("api.core.v1.SecretProjection", &["items"]),
    ("api.core.v1.DownwardAPIProjection", &["items"]),
    (
        "api.core.v1.ServiceSpec",
        &[
            "clusterIPs",
            "externalIPs",
            "ipFamilies",
            "loadBalancerSourceRanges",
        ],
    ),
    ("api.core.v1.LoadBalancerStatus", &["ingress"]),
    ("api.core.v1.LoadBalancerIngress", &["ports"]),
    ("api.core.v1.Endpoints", &["subsets"]),
    (
        "api.core.v1.EndpointSubset",
        &["addresses", "notReadyAddresses", "ports"],
    ),
    ("api.core.v1.NodeSpec", &["taints"]),
    (
        "api.core.v1.NodeStatus",
        &[
            "images",
            "volumesInUse",
            "volumesAttached",
            "runtimeHandlers",
        ],
    ),
    ("api.core.v1.ContainerImage", &["names"]),
    ("api.core.v1.NamespaceSpec", &["finalizers"]),
    ("api.core.v1.ServiceAccount", &["imagePullSecrets"]),
    ("api.discovery.v1.EndpointSlice", &["endpoints", "ports"]),
    ("api.discovery.v1.EndpointHints", &["forZones", "forNodes"]),
];

/// Maps Kubernetes marks `+mapType=atomic`.
pub const ATOMIC_MAPS: &[(&str, &str)] = &[
    ("api.core.v1.PodSpec", "nodeSelector"),
    ("api.core.v1.ServiceSpec", "selector"),
];

/// Structs Kubernetes marks `+structType=atomic` (`x-kubernetes-map-type: atomic` on the definition).
pub const ATOMIC_STRUCTS: &[&str] = &[
    "apimachinery.pkg.apis.meta.v1.LabelSelector",
    "apimachinery.pkg.apis.meta.v1.OwnerReference",
    "api.core.v1.ObjectReference",
    "api.core.v1.LocalObjectReference",
    "api.core.v1.TypedLocalObjectReference",
    "api.core.v1.ObjectFieldSelector",
    "api.core.v1.ResourceFieldSelector",
    "api.core.v1.ConfigMapKeySelector",
    "api.core.v1.SecretKeySelector",
    "api.core.v1.EndpointAddress",
    "api.core.v1.EndpointPort",
];

/// The full definition name for a short name of this table.
pub fn full_name(short: &str) -> String {
    format!("io.k8s.{short}")
}
