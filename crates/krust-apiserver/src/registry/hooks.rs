//! Per-kind rules of the write path (what Kubernetes keeps in each kind's strategy).

use super::Part;
use super::certificates;
use krust_api::resources::Resource;
use serde_json::{Map, Value, json};

/// Kinds whose `metadata.generation` counts spec changes (custom resources' counts every
/// change but to metadata and, with a status subresource, status).
pub fn has_generation(resource: &Resource) -> bool {
    resource.custom.is_some()
        || matches!(
            resource.builtin_kind(),
            "Deployment" | "ReplicaSet" | "CustomResourceDefinition"
        )
}

/// Whether an update changed what `metadata.generation` counts.
fn generation_changed(resource: &Resource, obj: &Value, old: &Value) -> bool {
    if resource.custom.is_none() {
        return obj.get("spec") != old.get("spec");
    }
    let counted = |v: &Value| -> Vec<(String, Value)> {
        let fields = v.as_object().into_iter().flatten();
        fields
            .filter(|(k, _)| *k != "metadata" && !(resource.has_status && *k == "status"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    counted(obj) != counted(old)
}

/// Kinds whose DELETE answers the deleted object rather than a success `Status` (their
/// storage's `ReturnDeletedObject` in Kubernetes). An object whose deletion is pending
/// (grace period, finalizers) is answered for every kind.
pub fn returns_deleted_object(resource: &Resource) -> bool {
    matches!(
        resource.builtin_kind(),
        "Pod" | "Service" | "Namespace" | "ServiceAccount"
    )
}

/// Clears what a client may not set on create (status, for most kinds with a status).
pub fn prepare_create(resource: &Resource, obj: &mut Value) {
    match resource.builtin_kind() {
        "Deployment" | "ReplicaSet" => obj["status"] = json!({}),
        "Service" => obj["status"] = json!({"loadBalancer": {}}),
        "CertificateSigningRequest" => obj["status"] = json!({}),
        "CustomResourceDefinition" => krust_api::custom::definition::set_defaults(obj),
        _ => {}
    }
    if let Some(custom) = resource.custom {
        if resource.has_status {
            obj.as_object_mut().map(|m| m.remove("status"));
        }
        krust_api::custom::structural::default(&custom.schema, obj);
    }
    if has_generation(resource) {
        obj["metadata"]["generation"] = json!(1);
    }
}

/// Carries over from `old` what an update may not change, and splits spec from status:
/// a write to the main resource keeps the old status, a write to `/status` keeps the rest.
pub fn prepare_update(resource: &Resource, obj: &mut Value, old: &Value, part: Part) {
    if part == Part::EphemeralContainers {
        // The old pod but its ephemeral containers (Kubernetes'
        // `dropNonEphemeralContainerUpdates`: labels, annotations and the rest stay too).
        let ephemeral = obj.pointer("/spec/ephemeralContainers").cloned();
        let mut merged = old.clone();
        match (ephemeral, merged["spec"].as_object_mut()) {
            (Some(e), Some(spec)) => {
                spec.insert("ephemeralContainers".into(), e);
            }
            (None, Some(spec)) => {
                spec.remove("ephemeralContainers");
            }
            _ => {}
        }
        *obj = merged;
    } else if resource.builtin_kind() == "CertificateSigningRequest" {
        certificates::prepare_update(obj, old, part);
    } else if part == Part::Status {
        // The old object but its status, which (with labels and annotations, which may
        // change through /status too, as in Kubernetes) moves over from the new one.
        let mut merged: Map<String, Value> = old
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| *k != "status")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut new = std::mem::take(obj);
        if let Some(status) = new.as_object_mut().and_then(|m| m.remove("status")) {
            merged.insert("status".into(), status);
        }
        let mut merged = Value::Object(merged);
        let new_meta = new.get_mut("metadata").and_then(Value::as_object_mut);
        let (labels, annotations) = match new_meta {
            Some(m) => (m.remove("labels"), m.remove("annotations")),
            None => (None, None),
        };
        for (f, v) in [("labels", labels), ("annotations", annotations)] {
            match v {
                Some(v) => merged["metadata"][f] = v,
                None => {
                    merged["metadata"].as_object_mut().map(|m| m.remove(f));
                }
            }
        }
        *obj = merged;
    } else if resource.has_status {
        match old.get("status") {
            Some(s) => obj["status"] = s.clone(),
            None => {
                obj.as_object_mut().map(|m| m.remove("status"));
            }
        }
    }
    if resource.builtin_kind() == "Service" && part == Part::Main {
        drop_type_dependent_fields(obj, old);
    }
    let meta = obj["metadata"].as_object_mut().expect("metadata");
    for f in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match old["metadata"].get(f) {
            Some(v) => meta.insert(f.to_string(), v.clone()),
            None => meta.remove(f),
        };
    }
    if let Some(custom) = resource.custom {
        krust_api::custom::structural::default(&custom.schema, obj);
    }
    if resource.builtin_kind() == "CustomResourceDefinition" && part == Part::Main {
        krust_api::custom::definition::set_defaults(obj);
    }
    if has_generation(resource) && generation_changed(resource, obj, old) {
        let g = old["metadata"]["generation"].as_i64().unwrap_or(0);
        obj["metadata"]["generation"] = json!(g + 1);
    }
}

/// What a Service's new spec no longer uses, and the update left as it was, goes (Kubernetes'
/// `dropTypeDependentFields`): the node ports once it is neither NodePort nor LoadBalancer,
/// the health check node port once it is not a LoadBalancer with `externalTrafficPolicy:
/// Local`. Set anew, they stay, for validation to refuse.
fn drop_type_dependent_fields(obj: &mut Value, old: &Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    let node_ports = |spec: &Value| -> Vec<Value> {
        let ports = spec.get("ports").and_then(Value::as_array);
        ports
            .into_iter()
            .flatten()
            .map(|p| p.get("nodePort").cloned().unwrap_or(Value::Null))
            .collect()
    };
    let old_spec = &old["spec"];
    let external = matches!(spec["type"].as_str(), Some("NodePort" | "LoadBalancer"));
    if !external && node_ports(spec) == node_ports(old_spec) {
        for p in spec["ports"].as_array_mut().into_iter().flatten() {
            p.as_object_mut().map(|p| p.remove("nodePort"));
        }
    }
    if !krust_api::validation::needs_health_check(spec)
        && spec.get("healthCheckNodePort") == old_spec.get("healthCheckNodePort")
    {
        spec.as_object_mut()
            .map(|s| s.remove("healthCheckNodePort"));
    }
}
