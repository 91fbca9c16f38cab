//! Validation, as Kubernetes' `Validate*` functions do it: each problem becomes a `Cause`
//! and all of them together one 422 `Invalid` error.

mod certificates;
mod config;
mod ephemeral;
mod names;
mod networking;
mod pod;
mod service;
mod workloads;

pub use names::{dns1035_label, dns1123_label, dns1123_subdomain, label_value, qualified_name};
pub use service::needs_health_check;

use crate::resources::Resource;
use crate::status::{ApiError, Cause};
use serde_json::Value;

/// Validates an object about to be created (`old` is `None`) or updated.
pub fn validate(resource: &Resource, obj: &Value, old: Option<&Value>) -> Result<(), ApiError> {
    let mut causes = metadata(resource, obj);
    match resource.builtin_kind() {
        "Pod" => causes.extend(pod::pod(obj, old)),
        "Deployment" | "ReplicaSet" => causes.extend(workloads::workload(resource.kind, obj, old)),
        "Service" => causes.extend(service::service(obj, old)),
        "ConfigMap" | "Secret" => causes.extend(config::config(resource.kind, obj)),
        "CertificateSigningRequest" => causes.extend(certificates::csr(obj, old)),
        "NetworkPolicy" => causes.extend(networking::network_policy(obj)),
        "CustomResourceDefinition" => causes.extend(crate::custom::definition::validate(obj, old)),
        _ => {}
    }
    if let Some(custom) = resource.custom {
        causes.extend(crate::custom::structural::validate(&custom.schema, obj));
    }
    verdict(resource, obj, causes)
}

/// Validates a write through `pods/ephemeralcontainers` (Kubernetes'
/// `ValidatePodEphemeralContainersUpdate`): the pod as a whole, its ephemeral containers,
/// and that none it had changed or went away. The plain pod update's rule (the spec may
/// not change) does not apply: this is the one way ephemeral containers are added.
pub fn validate_ephemeral_containers(
    resource: &Resource,
    obj: &Value,
    old: &Value,
) -> Result<(), ApiError> {
    let mut causes = metadata(resource, obj);
    causes.extend(ephemeral::update(obj, old));
    verdict(resource, obj, causes)
}

fn name_rule(resource: &Resource) -> fn(&str) -> Vec<String> {
    if resource.custom.is_some() {
        return dns1123_subdomain;
    }
    match resource.plural {
        "namespaces" => dns1123_label,
        "services" => dns1035_label,
        "events" => |_: &str| Vec::new(),
        _ => dns1123_subdomain,
    }
}

fn metadata(resource: &Resource, obj: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let meta = obj.get("metadata");
    let name = crate::meta::name(obj);
    let generate = crate::meta::meta_str(obj, "generateName").unwrap_or_default();
    if name.is_empty() {
        if generate.is_empty() {
            causes.push(Cause::required(
                "metadata.name",
                "name or generateName is required",
            ));
        }
    } else {
        for why in name_rule(resource)(name) {
            causes.push(Cause::invalid("metadata.name", &Value::from(name), why));
        }
    }
    causes.extend(names::labels(
        meta.and_then(|m| m.get("labels")),
        "metadata.labels",
    ));
    causes.extend(names::annotations(
        meta.and_then(|m| m.get("annotations")),
        "metadata.annotations",
    ));
    causes
}

/// `spec.x: Invalid value: …: field is immutable` when `field` changed between old and new.
fn immutable(obj: &Value, old: Option<&Value>, pointer: &str, field: &str) -> Option<Cause> {
    let old = old?;
    let (new_v, old_v) = (obj.pointer(pointer), old.pointer(pointer));
    (new_v != old_v)
        .then(|| Cause::invalid(field, new_v.unwrap_or(&Value::Null), "field is immutable"))
}

/// `must be between 1 and 65535, inclusive` for a port number.
fn port_number(v: &Value, field: &str, causes: &mut Vec<Cause>) {
    match v.as_i64() {
        Some(1..=65535) => {}
        Some(_) => causes.push(Cause::invalid(
            field,
            v,
            "must be between 1 and 65535, inclusive",
        )),
        None => causes.push(Cause::required(field, "")),
    }
}

/// Go's `%#v` of a `map[string]string`, as Kubernetes messages print label maps.
fn go_map(v: Option<&Value>) -> String {
    let Some(Value::Object(m)) = v else {
        return "map[string]string(nil)".to_string();
    };
    let mut pairs: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{k:?}:{:?}", v.as_str().unwrap_or_default()))
        .collect();
    pairs.sort();
    format!("map[string]string{{{}}}", pairs.join(", "))
}

/// `Ok` without causes, else Kubernetes' 422 naming the object and every cause.
fn verdict(resource: &Resource, obj: &Value, causes: Vec<Cause>) -> Result<(), ApiError> {
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            resource.group,
            resource.kind,
            crate::meta::name(obj),
            causes,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;
    use serde_json::json;

    #[test]
    fn bad_names_are_invalid() {
        let pods = find("", "v1", "pods").unwrap();
        let obj = json!({"metadata": {"name": "Bad_Name"}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
        let err = validate(pods, &obj, None).unwrap_err();
        assert_eq!(err.code, 422);
        assert!(err.message.starts_with("Pod \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"), "{}", err.message);
    }

    #[test]
    fn missing_name_is_required() {
        let cms = find("", "v1", "configmaps").unwrap();
        let err = validate(cms, &json!({"metadata": {}}), None).unwrap_err();
        assert_eq!(err.causes[0].field, "metadata.name");
        assert_eq!(err.causes[0].reason, "FieldValueRequired");
    }

    #[test]
    fn go_maps_print_like_go() {
        assert_eq!(
            go_map(Some(&json!({"b": "2", "a": "1"}))),
            "map[string]string{\"a\":\"1\", \"b\":\"2\"}"
        );
    }
}
