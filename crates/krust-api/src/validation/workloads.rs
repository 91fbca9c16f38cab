//! Deployment and ReplicaSet validation.

use super::{go_map, immutable, pod};
use crate::selectors::LabelSelector;
use crate::status::Cause;
use serde_json::{Value, json};

/// Validates a Deployment or ReplicaSet.
pub fn workload(kind: &str, obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut causes = Vec::new();
    let spec = obj.get("spec").cloned().unwrap_or(json!({}));
    if let Some(r) = spec.get("replicas").and_then(Value::as_i64)
        && r < 0
    {
        causes.push(Cause::invalid(
            "spec.replicas",
            &json!(r),
            "must be greater than or equal to 0",
        ));
    }
    let template_labels = spec.pointer("/template/metadata/labels");
    match spec.get("selector") {
        None | Some(Value::Null) => causes.push(Cause::required("spec.selector", "")),
        Some(sel) => match LabelSelector::from_object(sel) {
            Err(e) => causes.push(Cause::invalid("spec.selector", sel, e)),
            Ok(s) if s.is_empty() => causes.push(Cause::invalid(
                "spec.selector",
                sel,
                format!("empty selector is invalid for {}", kind.to_lowercase()),
            )),
            Ok(s) if !s.matches(template_labels.and_then(Value::as_object)) => {
                causes.push(Cause::invalid(
                    "spec.template.metadata.labels",
                    &Value::String(go_map(template_labels)),
                    "`selector` does not match template `labels`",
                ))
            }
            Ok(_) => {}
        },
    }
    causes.extend(super::names::labels(
        template_labels,
        "spec.template.metadata.labels",
    ));
    causes.extend(pod::pod_spec(
        spec.pointer("/template/spec"),
        "spec.template.spec",
    ));
    causes.extend(super::ephemeral::in_template(
        spec.pointer("/template/spec"),
        "spec.template.spec",
    ));
    if let Some(p) = spec.pointer("/template/spec/restartPolicy")
        && p != "Always"
    {
        causes.push(Cause::not_supported(
            "spec.template.spec.restartPolicy",
            p,
            &["Always"],
        ));
    }
    if kind == "Deployment" {
        causes.extend(strategy(&spec));
    }
    causes.extend(immutable(obj, old, "/spec/selector", "spec.selector"));
    causes
}

fn strategy(spec: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(s) = spec.get("strategy") else {
        return causes;
    };
    match s.get("type").and_then(Value::as_str) {
        Some("Recreate") if s.get("rollingUpdate").is_some_and(|r| !r.is_null()) => {
            causes.push(Cause::forbidden(
                "spec.strategy.rollingUpdate",
                "may not be specified when strategy `type` is 'Recreate'",
            ))
        }
        Some("Recreate" | "RollingUpdate") | None => {}
        Some(other) => causes.push(Cause::not_supported(
            "spec.strategy.type",
            &json!(other),
            &["Recreate", "RollingUpdate"],
        )),
    }
    if let Some(ru) = s.get("rollingUpdate") {
        let zero = |v: Option<&Value>| match v {
            None => true,
            Some(Value::Number(n)) => n.as_i64() == Some(0),
            Some(Value::String(p)) => p.trim_end_matches('%').parse::<i64>().ok() == Some(0),
            _ => false,
        };
        if zero(ru.get("maxSurge")) && zero(ru.get("maxUnavailable")) {
            causes.push(Cause::invalid(
                "spec.strategy.rollingUpdate.maxUnavailable",
                ru.get("maxUnavailable").unwrap_or(&json!(0)),
                "may not be 0 when `maxSurge` is 0",
            ));
        }
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(selector: Value, labels: Value) -> Value {
        json!({"spec": {"selector": selector, "template": {"metadata": {"labels": labels},
            "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
    }

    #[test]
    fn selector_must_match_template() {
        let d = deployment(json!({"matchLabels": {"app": "a"}}), json!({"app": "b"}));
        let c = workload("Deployment", &d, None);
        assert_eq!(c[0].field, "spec.template.metadata.labels");
        assert_eq!(
            c[0].message,
            "Invalid value: \"map[string]string{\\\"app\\\":\\\"b\\\"}\": `selector` does not match template `labels`"
        );
        let d = deployment(json!({"matchLabels": {"app": "a"}}), json!({"app": "a"}));
        assert!(workload("Deployment", &d, None).is_empty());
    }

    #[test]
    fn selector_is_required_and_immutable() {
        let mut d = deployment(
            json!({"matchLabels": {"app": "a"}}),
            json!({"app": "a", "x": "y"}),
        );
        let old = d.clone();
        d["spec"]["selector"] = json!({"matchLabels": {"x": "y"}});
        assert_eq!(
            workload("Deployment", &d, Some(&old))[0].field,
            "spec.selector"
        );
        d["spec"].as_object_mut().unwrap().remove("selector");
        assert_eq!(
            workload("ReplicaSet", &d, None)[0].message,
            "Required value"
        );
    }
}
