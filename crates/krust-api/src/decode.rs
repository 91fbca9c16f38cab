//! Decoding a request body into a known kind: type errors, unknown fields, quantities.
//!
//! Each served kind is decoded through its `k8s-openapi` type and encoded back; whatever did
//! not survive the round trip is an unknown field. The stored object is the request's own
//! JSON with unknown fields pruned, so the representation of known fields is kept as sent.

use crate::custom::Custom;
use crate::resources::Resource;
use crate::status::ApiError;
use k8s_openapi::api::{
    apps, authentication, authorization, coordination, core, discovery, events,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Map, Value};

/// How unknown fields are treated (`fieldValidation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and warn (the server default).
    Warn,
    /// Reject the request.
    Strict,
}

impl FieldValidation {
    /// Parses the query parameter (`Strict`, `Warn`, `Ignore`; default `Warn`).
    pub fn parse(s: Option<&str>) -> Result<Self, ApiError> {
        match s {
            None | Some("") | Some("Warn") => Ok(Self::Warn),
            Some("Strict") => Ok(Self::Strict),
            Some("Ignore") => Ok(Self::Ignore),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation: Unsupported value: {other:?}: supported values: \"Ignore\", \"Strict\", \"Warn\""
            ))),
        }
    }
}

/// One step of a path into an object.
enum Step {
    Key(String),
    Index(usize),
}

/// Decodes `v` as `T`, collecting the paths of the fields `T` does not know.
fn unknown_fields<T: serde::de::DeserializeOwned>(v: &Value) -> Result<Vec<Vec<Step>>, String> {
    fn steps(path: &serde_ignored::Path, out: &mut Vec<Step>) {
        use serde_ignored::Path;
        match path {
            Path::Root => {}
            Path::Seq { parent, index } => {
                steps(parent, out);
                out.push(Step::Index(*index));
            }
            Path::Map { parent, key } => {
                steps(parent, out);
                out.push(Step::Key(key.clone()));
            }
            Path::Some { parent }
            | Path::NewtypeStruct { parent }
            | Path::NewtypeVariant { parent } => steps(parent, out),
        }
    }
    let mut unknown = Vec::new();
    let _: T = serde_ignored::deserialize(v, |path| {
        let mut s = Vec::new();
        steps(&path, &mut s);
        unknown.push(s);
    })
    .map_err(|e| e.to_string())?;
    Ok(unknown)
}

fn typed(api_version: &str, kind: &str, v: &Value) -> Option<Result<Vec<Vec<Step>>, String>> {
    Some(match (api_version, kind) {
        ("v1", "Pod") => unknown_fields::<core::v1::Pod>(v),
        ("v1", "Service") => unknown_fields::<core::v1::Service>(v),
        ("v1", "Binding") => unknown_fields::<core::v1::Binding>(v),
        ("v1", "ConfigMap") => unknown_fields::<core::v1::ConfigMap>(v),
        ("v1", "Endpoints") => unknown_fields::<core::v1::Endpoints>(v),
        ("v1", "Event") => unknown_fields::<core::v1::Event>(v),
        ("v1", "Namespace") => unknown_fields::<core::v1::Namespace>(v),
        ("v1", "Node") => unknown_fields::<core::v1::Node>(v),
        ("v1", "Secret") => unknown_fields::<core::v1::Secret>(v),
        ("v1", "ServiceAccount") => unknown_fields::<core::v1::ServiceAccount>(v),
        ("apps/v1", "Deployment") => unknown_fields::<apps::v1::Deployment>(v),
        ("apps/v1", "ReplicaSet") => unknown_fields::<apps::v1::ReplicaSet>(v),
        ("authentication.k8s.io/v1", "TokenRequest") => {
            unknown_fields::<authentication::v1::TokenRequest>(v)
        }
        ("authentication.k8s.io/v1", "TokenReview") => {
            unknown_fields::<authentication::v1::TokenReview>(v)
        }
        ("authentication.k8s.io/v1", "SelfSubjectReview") => {
            unknown_fields::<authentication::v1::SelfSubjectReview>(v)
        }
        ("authorization.k8s.io/v1", "SubjectAccessReview") => {
            unknown_fields::<authorization::v1::SubjectAccessReview>(v)
        }
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => {
            unknown_fields::<authorization::v1::SelfSubjectAccessReview>(v)
        }
        ("authorization.k8s.io/v1", "LocalSubjectAccessReview") => {
            unknown_fields::<authorization::v1::LocalSubjectAccessReview>(v)
        }
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => {
            unknown_fields::<authorization::v1::SelfSubjectRulesReview>(v)
        }
        ("autoscaling/v1", "Scale") => {
            unknown_fields::<k8s_openapi::api::autoscaling::v1::Scale>(v)
        }
        ("certificates.k8s.io/v1", "CertificateSigningRequest") => {
            unknown_fields::<k8s_openapi::api::certificates::v1::CertificateSigningRequest>(v)
        }
        ("coordination.k8s.io/v1", "Lease") => unknown_fields::<coordination::v1::Lease>(v),
        ("networking.k8s.io/v1", "NetworkPolicy") => {
            unknown_fields::<k8s_openapi::api::networking::v1::NetworkPolicy>(v)
        }
        ("discovery.k8s.io/v1", "EndpointSlice") => {
            unknown_fields::<discovery::v1::EndpointSlice>(v)
        }
        ("events.k8s.io/v1", "Event") => unknown_fields::<events::v1::Event>(v),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition") => {
            unknown_fields::<CustomResourceDefinition>(v)
        }
        _ => return None,
    })
}

/// Prunes what a custom object's schema does not declare (its metadata as any object's),
/// returning the pruned fields' paths.
fn custom_unknown_fields(custom: &Custom, obj: &mut Value) -> Result<Vec<String>, String> {
    let mut unknown = Vec::new();
    if let Some(metadata) = obj.get("metadata") {
        let paths = unknown_fields::<ObjectMeta>(metadata)?;
        for mut path in paths {
            path.insert(0, Step::Key("metadata".into()));
            unknown.extend(remove(obj, &path));
        }
    }
    let pruned = crate::custom::structural::prune(&custom.schema, obj);
    unknown.extend(
        pruned
            .into_iter()
            .map(|p| p.trim_start_matches('.').to_string()),
    );
    Ok(unknown)
}

/// Removes the field at `path` from `obj`, returning it as Kubernetes' strict decoding errors
/// write it (`spec.template.spec.foo`, `spec.containers[0].bar`), unless it is absent or
/// null.
fn remove(obj: &mut Value, path: &[Step]) -> Option<String> {
    let (Step::Key(last), parents) = path.split_last()? else {
        return None;
    };
    let mut at = obj;
    for step in parents {
        at = match step {
            Step::Key(k) => at.get_mut(k.as_str())?,
            Step::Index(i) => at.get_mut(*i)?,
        };
    }
    let map = at.as_object_mut()?;
    if map.get(last.as_str()).is_none_or(Value::is_null) {
        return None;
    }
    map.remove(last.as_str());
    let mut rendered = String::new();
    for step in path {
        match step {
            Step::Key(k) if rendered.is_empty() => rendered.push_str(k),
            Step::Key(k) => {
                rendered.push('.');
                rendered.push_str(k);
            }
            Step::Index(i) => rendered.push_str(&format!("[{i}]")),
        }
    }
    Some(rendered)
}

/// Decodes `obj` as an object of `resource`: type errors give a 400 as Kubernetes words
/// them; unknown fields (those a custom resource's schema does not declare) are rejected
/// (`Strict`) or pruned, returning warnings (`Warn`) or nothing (`Ignore`).
pub fn decode(
    obj: &mut Value,
    resource: &Resource,
    mode: FieldValidation,
) -> Result<Vec<String>, ApiError> {
    let Some(custom) = resource.custom else {
        return decode_kind(obj, &resource.api_version(), resource.kind, mode);
    };
    let unknown = custom_unknown_fields(custom, obj);
    verdict(unknown, mode, resource.version, resource.kind)
}

/// Decodes `obj` as the built-in `kind` of `api_version` (see [`decode`]).
pub fn decode_kind(
    obj: &mut Value,
    api_version: &str,
    kind: &str,
    mode: FieldValidation,
) -> Result<Vec<String>, ApiError> {
    let version = api_version.rsplit('/').next().unwrap_or(api_version);
    let Some(result) = typed(api_version, kind, obj) else {
        return Ok(Vec::new());
    };
    let paths = result.map_err(|why| cannot(version, kind, why))?;
    check_quantities(obj).map_err(|why| cannot(version, kind, why))?;
    let unknown: Vec<String> = paths.iter().filter_map(|p| remove(obj, p)).collect();
    if let Some(definition) = crate::schema::definition_for(group_of(api_version), version, kind) {
        drop_empty_maps(obj, definition);
    }
    verdict(Ok(unknown), mode, version, kind)
}

/// The 400 of a body that cannot be decoded as `kind`.
fn cannot(version: &str, kind: &str, why: String) -> ApiError {
    ApiError::bad_request(format!(
        "{kind} in version {version:?} cannot be handled as a {kind}: {why}"
    ))
}

/// What `mode` makes of the unknown fields found (or of a type error).
fn verdict(
    unknown: Result<Vec<String>, String>,
    mode: FieldValidation,
    version: &str,
    kind: &str,
) -> Result<Vec<String>, ApiError> {
    let unknown = unknown.map_err(|why| cannot(version, kind, why))?;
    match mode {
        FieldValidation::Strict if !unknown.is_empty() => {
            let list: Vec<String> = unknown
                .iter()
                .map(|f| format!("unknown field {f:?}"))
                .collect();
            let why = format!("strict decoding error: {}", list.join(", "));
            Err(cannot(version, kind, why))
        }
        FieldValidation::Warn => Ok(unknown
            .into_iter()
            .map(|f| format!("unknown field {f:?}"))
            .collect()),
        _ => Ok(Vec::new()),
    }
}

fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// Drops empty maps (`labels: {}`, `data: {}`), as Go's `omitempty` does: Kubernetes never
/// stores or returns them.
fn drop_empty_maps(obj: &mut Value, definition: &str) {
    use crate::schema::{Shape, described};
    let (Value::Object(m), Some(described)) = (obj, described(definition)) else {
        return;
    };
    m.retain(|key, v| {
        let empty_map = |p: &crate::schema::Property| {
            p.shape == Shape::Map && v.as_object().is_some_and(Map::is_empty)
        };
        !described.property(key).is_some_and(empty_map)
    });
    for (key, v) in m.iter_mut() {
        let Some(p) = described.property(key) else {
            continue;
        };
        let Some(child) = p.definition else { continue };
        match (p.shape, v) {
            (Shape::Object, v @ Value::Object(_)) => drop_empty_maps(v, child),
            (Shape::List, Value::Array(items)) => {
                items.iter_mut().for_each(|i| drop_empty_maps(i, child))
            }
            (Shape::Map, Value::Object(values)) => {
                values.values_mut().for_each(|i| drop_empty_maps(i, child))
            }
            _ => {}
        }
    }
}

const QUANTITY_MSG: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// Whether `s` parses as a Kubernetes resource quantity.
pub fn is_quantity(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let num_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(num_end);
    if num.is_empty() || num == "." || num.matches('.').count() > 1 {
        return false;
    }
    const SUFFIXES: &[&str] = &[
        "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E",
    ];
    if SUFFIXES.contains(&suffix) {
        return true;
    }
    // Decimal exponent: e3, E-2.
    let exp = suffix
        .strip_prefix(['e', 'E'])
        .map(|e| e.strip_prefix(['+', '-']).unwrap_or(e));
    exp.is_some_and(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()))
}

/// Resource quantities live in maps named like these.
fn check_quantities(v: &Value) -> Result<(), String> {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let quantity_map = matches!(
                    k.as_str(),
                    "requests" | "limits" | "capacity" | "allocatable" | "hard" | "used"
                );
                if quantity_map && let Value::Object(q) = child {
                    for val in q.values() {
                        if let Some(s) = val.as_str()
                            && !is_quantity(s)
                        {
                            return Err(QUANTITY_MSG.to_string());
                        }
                    }
                }
                check_quantities(child)?;
            }
            Ok(())
        }
        Value::Array(a) => a.iter().try_for_each(check_quantities),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "creationTimestamp": null},
            "spec": {"selector": {"matchLabels": {"app": "d"}}, "strategy": {},
                "template": {"metadata": {"labels": {"app": "d"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx", "resources": {}}]}}},
            "status": {}})
    }

    #[test]
    fn known_fields_pass_strict() {
        let mut d = deployment();
        let before = d.clone();
        assert!(
            decode_kind(&mut d, "apps/v1", "Deployment", FieldValidation::Strict)
                .unwrap()
                .is_empty()
        );
        assert_eq!(d, before);
    }

    #[test]
    fn unknown_fields_are_named() {
        let mut d = deployment();
        d["spec"]["replicaz"] = json!(3);
        d["spec"]["template"]["spec"]["containers"][0]["imagee"] = json!("x");
        let err = decode_kind(
            &mut d.clone(),
            "apps/v1",
            "Deployment",
            FieldValidation::Strict,
        )
        .unwrap_err();
        assert_eq!(err.code, 400);
        assert!(
            err.message
                .contains("strict decoding error: unknown field \"spec.replicaz\""),
            "{}",
            err.message
        );
        assert!(
            err.message
                .contains("spec.template.spec.containers[0].imagee"),
            "{}",
            err.message
        );
        let warnings = decode_kind(&mut d, "apps/v1", "Deployment", FieldValidation::Warn).unwrap();
        assert_eq!(warnings.len(), 2);
        assert!(d["spec"].get("replicaz").is_none());
    }

    #[test]
    fn type_errors_are_bad_requests() {
        let mut d = deployment();
        d["spec"]["replicas"] = json!("three");
        let err = decode_kind(&mut d, "apps/v1", "Deployment", FieldValidation::Warn).unwrap_err();
        assert!(
            err.message
                .starts_with("Deployment in version \"v1\" cannot be handled as a Deployment:")
        );
    }

    #[test]
    fn empty_maps_are_dropped() {
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "labels": {}, "annotations": {}}, "data": {}});
        decode_kind(&mut cm, "v1", "ConfigMap", FieldValidation::Strict).unwrap();
        assert_eq!(
            cm,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
        );
        let mut d = deployment();
        d["spec"]["template"]["spec"]["nodeSelector"] = json!({});
        decode_kind(&mut d, "apps/v1", "Deployment", FieldValidation::Strict).unwrap();
        assert!(d["spec"]["template"]["spec"].get("nodeSelector").is_none());
        assert_eq!(d["spec"]["strategy"], json!({}), "empty structs stay");
    }

    #[test]
    fn quantities() {
        for ok in ["1", "100m", "1.5", "128Mi", "1e3", "2Gi", "0.5", "+1"] {
            assert!(is_quantity(ok), "{ok}");
        }
        for bad in ["", "abc", "1.2.3", "12x", "Mi"] {
            assert!(!is_quantity(bad), "{bad}");
        }
        let mut d = deployment();
        d["spec"]["template"]["spec"]["containers"][0]["resources"] =
            json!({"requests": {"cpu": "lots"}});
        assert!(decode_kind(&mut d, "apps/v1", "Deployment", FieldValidation::Warn).is_err());
    }
}
