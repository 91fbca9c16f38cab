//! Decoding a request body into a known kind: type errors, unknown fields, quantities.
//!
//! Each served kind is decoded through its `k8s-openapi` type and encoded back; whatever did
//! not survive the round trip is an unknown field. The stored object is the request's own
//! JSON with unknown fields pruned, so the representation of known fields is kept as sent.

use crate::status::ApiError;
use k8s_openapi::api::{apps, coordination, core, discovery, events};
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

fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(
    v: &Value,
) -> Result<Value, String> {
    let typed: T = serde::Deserialize::deserialize(v).map_err(|e| e.to_string())?;
    serde_json::to_value(typed).map_err(|e| e.to_string())
}

fn typed(api_version: &str, kind: &str, v: &Value) -> Option<Result<Value, String>> {
    Some(match (api_version, kind) {
        ("v1", "Pod") => round_trip::<core::v1::Pod>(v),
        ("v1", "Service") => round_trip::<core::v1::Service>(v),
        ("v1", "Binding") => round_trip::<core::v1::Binding>(v),
        ("v1", "ConfigMap") => round_trip::<core::v1::ConfigMap>(v),
        ("v1", "Endpoints") => round_trip::<core::v1::Endpoints>(v),
        ("v1", "Event") => round_trip::<core::v1::Event>(v),
        ("v1", "Namespace") => round_trip::<core::v1::Namespace>(v),
        ("v1", "Node") => round_trip::<core::v1::Node>(v),
        ("v1", "Secret") => round_trip::<core::v1::Secret>(v),
        ("v1", "ServiceAccount") => round_trip::<core::v1::ServiceAccount>(v),
        ("apps/v1", "Deployment") => round_trip::<apps::v1::Deployment>(v),
        ("apps/v1", "ReplicaSet") => round_trip::<apps::v1::ReplicaSet>(v),
        ("autoscaling/v1", "Scale") => round_trip::<k8s_openapi::api::autoscaling::v1::Scale>(v),
        ("coordination.k8s.io/v1", "Lease") => round_trip::<coordination::v1::Lease>(v),
        ("discovery.k8s.io/v1", "EndpointSlice") => round_trip::<discovery::v1::EndpointSlice>(v),
        ("events.k8s.io/v1", "Event") => round_trip::<events::v1::Event>(v),
        _ => return None,
    })
}

/// Collects the paths present in `sent` but not in `kept` into `out`, and removes them from
/// `sent`. Paths read like Kubernetes' strict decoding errors: `spec.template.spec.foo`,
/// `spec.containers[0].bar`.
fn prune(sent: &mut Value, kept: &Value, path: &str, out: &mut Vec<String>) {
    match (sent, kept) {
        (Value::Object(s), Value::Object(k)) => prune_map(s, k, path, out),
        (Value::Array(s), Value::Array(k)) => {
            for (i, (sv, kv)) in s.iter_mut().zip(k).enumerate() {
                prune(sv, kv, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn prune_map(
    s: &mut Map<String, Value>,
    k: &Map<String, Value>,
    path: &str,
    out: &mut Vec<String>,
) {
    s.retain(|key, v| {
        if v.is_null() || k.contains_key(key) {
            return true;
        }
        out.push(if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        });
        false
    });
    for (key, v) in s.iter_mut() {
        if let Some(kv) = k.get(key) {
            let child = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            prune(v, kv, &child, out);
        }
    }
}

/// Decodes `obj` as `kind`: type errors give a 400 as Kubernetes words them; unknown fields
/// are rejected (`Strict`) or pruned, returning warnings (`Warn`) or nothing (`Ignore`).
pub fn decode(
    obj: &mut Value,
    api_version: &str,
    kind: &str,
    mode: FieldValidation,
) -> Result<Vec<String>, ApiError> {
    let version = api_version.rsplit('/').next().unwrap_or(api_version);
    let cannot = |why: String| {
        ApiError::bad_request(format!(
            "{kind} in version {version:?} cannot be handled as a {kind}: {why}"
        ))
    };
    let Some(result) = typed(api_version, kind, obj) else {
        return Ok(Vec::new());
    };
    let kept = result.map_err(cannot)?;
    check_quantities(obj).map_err(cannot)?;
    let mut unknown = Vec::new();
    prune(obj, &kept, "", &mut unknown);
    if let Some(definition) = crate::schema::definition_for(group_of(api_version), version, kind) {
        drop_empty_maps(obj, definition);
    }
    match mode {
        FieldValidation::Strict if !unknown.is_empty() => {
            let list: Vec<String> = unknown
                .iter()
                .map(|f| format!("unknown field {f:?}"))
                .collect();
            Err(cannot(format!(
                "strict decoding error: {}",
                list.join(", ")
            )))
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
    use crate::schema::{Shape, property};
    let Value::Object(m) = obj else { return };
    m.retain(|key, v| {
        let Some(p) = property(definition, key) else {
            return true;
        };
        !(p.shape == Shape::Map && v.as_object().is_some_and(Map::is_empty))
    });
    for (key, v) in m.iter_mut() {
        let Some(p) = property(definition, key) else {
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
            decode(&mut d, "apps/v1", "Deployment", FieldValidation::Strict)
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
        let err = decode(
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
        let warnings = decode(&mut d, "apps/v1", "Deployment", FieldValidation::Warn).unwrap();
        assert_eq!(warnings.len(), 2);
        assert!(d["spec"].get("replicaz").is_none());
    }

    #[test]
    fn type_errors_are_bad_requests() {
        let mut d = deployment();
        d["spec"]["replicas"] = json!("three");
        let err = decode(&mut d, "apps/v1", "Deployment", FieldValidation::Warn).unwrap_err();
        assert!(
            err.message
                .starts_with("Deployment in version \"v1\" cannot be handled as a Deployment:")
        );
    }

    #[test]
    fn empty_maps_are_dropped() {
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "labels": {}, "annotations": {}}, "data": {}});
        decode(&mut cm, "v1", "ConfigMap", FieldValidation::Strict).unwrap();
        assert_eq!(
            cm,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
        );
        let mut d = deployment();
        d["spec"]["template"]["spec"]["nodeSelector"] = json!({});
        decode(&mut d, "apps/v1", "Deployment", FieldValidation::Strict).unwrap();
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
        assert!(decode(&mut d, "apps/v1", "Deployment", FieldValidation::Warn).is_err());
    }
}
