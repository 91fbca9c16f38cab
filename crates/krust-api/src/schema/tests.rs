use serde_json::{Value, json};

use super::patch_meta::{ATOMIC_LISTS, ATOMIC_MAPS, ATOMIC_STRUCTS, PATCH_META, full_name};
use super::*;

const CORE: &str = "io.k8s.api.core.v1.";
const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.";

fn prop(definition: &str, name: &str) -> Property {
    let full = if definition.starts_with("io.") {
        definition.to_owned()
    } else {
        format!("{CORE}{definition}")
    };
    property(&full, name).unwrap_or_else(|| panic!("{full}.{name} missing"))
}

fn assert_merge_list(p: &Property, key: &str, definition: &str) {
    assert_eq!(p.shape, Shape::List);
    assert!(p.merges(), "{p:?}");
    assert_eq!(p.merge_key, Some(key));
    assert_eq!(p.definition, Some(definition));
}

#[test]
fn served_kinds_have_root_definitions_with_gvk() {
    let expected = [
        ("", "v1", "Namespace"),
        ("", "v1", "Pod"),
        ("", "v1", "Service"),
        ("", "v1", "Endpoints"),
        ("", "v1", "Node"),
        ("", "v1", "Event"),
        ("", "v1", "ConfigMap"),
        ("", "v1", "Secret"),
        ("", "v1", "ServiceAccount"),
        ("", "v1", "Binding"),
        ("apps", "v1", "Deployment"),
        ("apps", "v1", "ReplicaSet"),
        ("autoscaling", "v1", "Scale"),
        ("authentication.k8s.io", "v1", "TokenRequest"),
        ("authentication.k8s.io", "v1", "TokenReview"),
        ("authentication.k8s.io", "v1", "SelfSubjectReview"),
        ("authorization.k8s.io", "v1", "SubjectAccessReview"),
        ("authorization.k8s.io", "v1", "SelfSubjectAccessReview"),
        ("authorization.k8s.io", "v1", "LocalSubjectAccessReview"),
        ("authorization.k8s.io", "v1", "SelfSubjectRulesReview"),
        ("coordination.k8s.io", "v1", "Lease"),
        ("discovery.k8s.io", "v1", "EndpointSlice"),
        ("events.k8s.io", "v1", "Event"),
        ("", "v1", "PodList"),
        ("apps", "v1", "DeploymentList"),
    ];
    for (group, version, kind) in expected {
        let name = definition_for(group, version, kind)
            .unwrap_or_else(|| panic!("{group}/{version} {kind}"));
        let gvk = &definitions()[name]["x-kubernetes-group-version-kind"];
        assert_eq!(
            gvk,
            &json!([{ "group": group, "version": version, "kind": kind }]),
            "{name}"
        );
    }
    assert_eq!(
        definition_for("apps", "v1", "Deployment"),
        Some("io.k8s.api.apps.v1.Deployment")
    );
    assert_eq!(
        definition_for("events.k8s.io", "v1", "Event"),
        Some("io.k8s.api.events.v1.Event")
    );
    assert_eq!(
        definition_for("", "v1", "Event"),
        Some("io.k8s.api.core.v1.Event")
    );
    assert_eq!(definition_for("apps", "v1", "Pod"), None);
    // Kubernetes does not mark metadata required (k8s-openapi does).
    assert_eq!(
        definitions()["io.k8s.api.apps.v1.Deployment"].get("required"),
        None
    );
    assert_eq!(
        definitions()["io.k8s.api.core.v1.Binding"]["required"],
        json!(["target"])
    );
    assert_eq!(
        definitions()[&format!("{META}Status")]["x-kubernetes-group-version-kind"],
        json!([{ "group": "", "version": "v1", "kind": "Status" }])
    );
    let delete = &definitions()[&format!("{META}DeleteOptions")]["x-kubernetes-group-version-kind"];
    assert!(
        delete
            .as_array()
            .unwrap()
            .contains(&json!({ "group": "apps", "version": "v1", "kind": "DeleteOptions" }))
    );
    assert!(
        served_kinds()
            .any(|(_, _, k, d)| k == "LeaseList" && d == "io.k8s.api.coordination.v1.LeaseList")
    );
}

fn collect_refs(value: &'static Value, out: &mut Vec<&'static str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r);
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_ref_is_openapi3_and_resolves() {
    let mut refs = Vec::new();
    definitions()
        .values()
        .for_each(|v| collect_refs(v, &mut refs));
    assert!(refs.len() > 100);
    for r in refs {
        let name = r
            .strip_prefix(REF_PREFIX)
            .unwrap_or_else(|| panic!("bad ref {r}"));
        assert!(definitions().contains_key(name), "dangling {r}");
    }
    // A described reference is wrapped in allOf, as in Kubernetes' own OpenAPI v3.
    let metadata = &definitions()["io.k8s.api.apps.v1.Deployment"]["properties"]["metadata"];
    assert_eq!(
        metadata["allOf"][0]["$ref"],
        json!(format!("{REF_PREFIX}{META}ObjectMeta"))
    );
}

#[test]
fn every_table_row_names_an_existing_property() {
    let exists = |d: &str, p: &str| property(&full_name(d), p).is_some();
    for row in PATCH_META {
        assert!(exists(row.definition, row.property), "{row:?}");
    }
    for (d, props) in ATOMIC_LISTS {
        for p in *props {
            assert!(exists(d, p), "{d}.{p}");
            assert_eq!(
                property(&full_name(d), p).unwrap().shape,
                Shape::List,
                "{d}.{p}"
            );
        }
    }
    for (d, p) in ATOMIC_MAPS {
        assert!(exists(d, p), "{d}.{p}");
    }
    for d in ATOMIC_STRUCTS {
        assert!(is_atomic_struct(&full_name(d)), "{d}");
    }
}

#[test]
fn pod_spec_patch_metadata_matches_kubernetes() {
    assert_merge_list(
        &prop("PodSpec", "containers"),
        "name",
        "io.k8s.api.core.v1.Container",
    );
    assert_merge_list(
        &prop("PodSpec", "initContainers"),
        "name",
        "io.k8s.api.core.v1.Container",
    );
    assert_merge_list(
        &prop("PodSpec", "imagePullSecrets"),
        "name",
        "io.k8s.api.core.v1.LocalObjectReference",
    );
    let volumes = prop("PodSpec", "volumes");
    assert_merge_list(&volumes, "name", "io.k8s.api.core.v1.Volume");
    assert!(volumes.retains_keys());
    assert_eq!(volumes.patch_strategy, Some("merge,retainKeys"));
    let tolerations = prop("PodSpec", "tolerations");
    assert!(!tolerations.merges());
    assert_eq!(tolerations.merge_key, None);
    assert_eq!(tolerations.list_type, Some("atomic"));
    let spread = prop("PodSpec", "topologySpreadConstraints");
    assert_eq!(spread.merge_key, Some("topologyKey"));
    assert_eq!(
        spread.list_map_keys,
        vec!["topologyKey", "whenUnsatisfiable"]
    );
    assert_eq!(prop("PodSpec", "nodeSelector").map_type, Some("atomic"));
    assert_eq!(prop("PodSpec", "nodeSelector").shape, Shape::Map);
}

#[test]
fn container_patch_metadata_matches_kubernetes() {
    let ports = prop("Container", "ports");
    assert_merge_list(&ports, "containerPort", "io.k8s.api.core.v1.ContainerPort");
    assert_eq!(ports.list_type, Some("map"));
    assert_eq!(ports.list_map_keys, vec!["containerPort", "protocol"]);
    assert_merge_list(
        &prop("Container", "env"),
        "name",
        "io.k8s.api.core.v1.EnvVar",
    );
    assert_merge_list(
        &prop("Container", "volumeMounts"),
        "mountPath",
        "io.k8s.api.core.v1.VolumeMount",
    );
    assert_merge_list(
        &prop("Container", "volumeDevices"),
        "devicePath",
        "io.k8s.api.core.v1.VolumeDevice",
    );
    let command = prop("Container", "command");
    assert_eq!(
        (command.shape, command.definition, command.merges()),
        (Shape::List, None, false)
    );
    assert_eq!(prop("Container", "image").shape, Shape::Scalar);
    let resources = prop("Container", "resources");
    assert_eq!(resources.shape, Shape::Object);
    let limits = prop("ResourceRequirements", "limits");
    assert_eq!(limits.shape, Shape::Map);
    assert_eq!(
        limits.definition,
        Some("io.k8s.apimachinery.pkg.api.resource.Quantity")
    );
}

#[test]
fn other_kinds_patch_metadata_matches_kubernetes() {
    let ports = prop("ServiceSpec", "ports");
    assert_merge_list(&ports, "port", "io.k8s.api.core.v1.ServicePort");
    assert_eq!(ports.list_map_keys, vec!["port", "protocol"]);
    assert_eq!(prop("ServiceSpec", "selector").map_type, Some("atomic"));
    assert_merge_list(
        &prop("PodStatus", "conditions"),
        "type",
        "io.k8s.api.core.v1.PodCondition",
    );
    assert_merge_list(
        &prop("NodeStatus", "addresses"),
        "type",
        "io.k8s.api.core.v1.NodeAddress",
    );
    assert_merge_list(
        &prop("NodeStatus", "conditions"),
        "type",
        "io.k8s.api.core.v1.NodeCondition",
    );
    let cidrs = prop("NodeSpec", "podCIDRs");
    assert!(cidrs.merges());
    assert_eq!((cidrs.merge_key, cidrs.list_type), (None, Some("set")));
    assert_eq!(prop("NodeSpec", "taints").list_type, Some("atomic"));
    assert_merge_list(
        &prop("ServiceAccount", "secrets"),
        "name",
        "io.k8s.api.core.v1.ObjectReference",
    );
    let owners = prop(&format!("{META}ObjectMeta"), "ownerReferences");
    assert_merge_list(
        &owners,
        "uid",
        "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference",
    );
    let finalizers = prop(&format!("{META}ObjectMeta"), "finalizers");
    assert!(finalizers.merges());
    assert_eq!(
        (finalizers.merge_key, finalizers.list_type),
        (None, Some("set"))
    );
    assert_eq!(
        prop(&format!("{META}ObjectMeta"), "labels").shape,
        Shape::Map
    );
    let conditions = prop("io.k8s.api.apps.v1.DeploymentStatus", "conditions");
    assert_merge_list(
        &conditions,
        "type",
        "io.k8s.api.apps.v1.DeploymentCondition",
    );
    let strategy = prop("io.k8s.api.apps.v1.DeploymentSpec", "strategy");
    assert!(strategy.retains_keys() && !strategy.merges());
    assert_eq!(strategy.shape, Shape::Object);
    assert_eq!(
        strategy.definition,
        Some("io.k8s.api.apps.v1.DeploymentStrategy")
    );
    let template = prop("io.k8s.api.apps.v1.DeploymentSpec", "template");
    assert_eq!(
        template.definition,
        Some("io.k8s.api.core.v1.PodTemplateSpec")
    );
    assert_eq!(
        prop("io.k8s.api.discovery.v1.EndpointSlice", "endpoints").list_type,
        Some("atomic")
    );
    assert_eq!(prop("ConfigMap", "data").shape, Shape::Map);
    assert!(is_atomic_struct("io.k8s.api.core.v1.ObjectReference"));
    assert!(!is_atomic_struct("io.k8s.api.core.v1.PodSpec"));
    assert!(property("io.k8s.api.core.v1.PodSpec", "noSuchField").is_none());
}

#[test]
fn list_definitions_reference_their_items() {
    let list = &definitions()["io.k8s.api.core.v1.PodList"];
    assert_eq!(
        list["properties"]["items"]["items"]["$ref"],
        json!(format!("{REF_PREFIX}{CORE}Pod"))
    );
    assert_eq!(
        prop("PodList", "items").definition,
        Some("io.k8s.api.core.v1.Pod")
    );
}
