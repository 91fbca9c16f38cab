//! Pod and pod template validation.

use super::{names, port_number};
use crate::status::Cause;
use serde_json::{Value, json};
use std::collections::HashSet;

/// Validates a pod spec at `path` (`spec` or `spec.template.spec`).
pub fn pod_spec(spec: Option<&Value>, path: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(spec) = spec else {
        causes.push(Cause::required(path, ""));
        return causes;
    };
    let containers = spec.get("containers").and_then(Value::as_array);
    if containers.is_none_or(|c| c.is_empty()) {
        causes.push(Cause::required(format!("{path}.containers"), ""));
    }
    let mut seen = HashSet::new();
    for list in ["initContainers", "containers"] {
        let Some(cs) = spec.get(list).and_then(Value::as_array) else {
            continue;
        };
        for (i, c) in cs.iter().enumerate() {
            container(c, &format!("{path}.{list}[{i}]"), &mut seen, &mut causes);
        }
    }
    if let Some(p) = spec.get("restartPolicy") {
        let ok = ["Always", "OnFailure", "Never"];
        if !p.as_str().is_some_and(|s| ok.contains(&s)) {
            causes.push(Cause::not_supported(
                format!("{path}.restartPolicy"),
                p,
                &ok,
            ));
        }
    }
    if let Some(p) = spec.get("dnsPolicy") {
        let ok = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
        if !p.as_str().is_some_and(|s| ok.contains(&s)) {
            causes.push(Cause::not_supported(format!("{path}.dnsPolicy"), p, &ok));
        }
    }
    if let Some(g) = spec
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64)
        && g < 0
    {
        let field = format!("{path}.terminationGracePeriodSeconds");
        causes.push(Cause::invalid(
            field,
            &json!(g),
            "must be greater than or equal to 0",
        ));
    }
    causes
}

/// Validates one container at `path`; `seen` holds the names of the pod's containers so far.
pub(super) fn container(
    c: &Value,
    path: &str,
    seen: &mut HashSet<String>,
    causes: &mut Vec<Cause>,
) {
    let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
    if name.is_empty() {
        causes.push(Cause::required(format!("{path}.name"), ""));
    } else {
        for why in names::dns1123_label(name) {
            causes.push(Cause::invalid(format!("{path}.name"), &json!(name), why));
        }
        if !seen.insert(name.to_string()) {
            causes.push(Cause::duplicate(format!("{path}.name"), &json!(name)));
        }
    }
    if c.get("image")
        .and_then(Value::as_str)
        .is_none_or(|i| i.trim().is_empty())
    {
        causes.push(Cause::required(format!("{path}.image"), ""));
    }
    if let Some(p) = c.get("imagePullPolicy") {
        let ok = ["Always", "IfNotPresent", "Never"];
        if !p.as_str().is_some_and(|s| ok.contains(&s)) {
            causes.push(Cause::not_supported(
                format!("{path}.imagePullPolicy"),
                p,
                &ok,
            ));
        }
    }
    let Some(ports) = c.get("ports").and_then(Value::as_array) else {
        return;
    };
    let mut port_names = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let field = format!("{path}.ports[{i}]");
        port_number(
            p.get("containerPort").unwrap_or(&Value::Null),
            &format!("{field}.containerPort"),
            causes,
        );
        if let Some(h) = p.get("hostPort").filter(|h| h.as_i64() != Some(0)) {
            port_number(h, &format!("{field}.hostPort"), causes);
        }
        if let Some(proto) = p.get("protocol") {
            let ok = ["SCTP", "TCP", "UDP"];
            if !proto.as_str().is_some_and(|s| ok.contains(&s)) {
                causes.push(Cause::not_supported(
                    format!("{field}.protocol"),
                    proto,
                    &ok,
                ));
            }
        }
        if let Some(n) = p.get("name").and_then(Value::as_str) {
            if n.len() > 15
                || !n.bytes().any(|b| b.is_ascii_lowercase())
                || !names::dns1123_label(n).is_empty()
            {
                causes.push(Cause::invalid(
                    format!("{field}.name"),
                    &json!(n),
                    "must be no more than 15 characters, contain only lowercase alphanumerics or '-', and contain at least one letter",
                ));
            } else if !port_names.insert(n.to_string()) {
                causes.push(Cause::duplicate(format!("{field}.name"), &json!(n)));
            }
        }
    }
}

/// Validates a pod; on update only the fields Kubernetes lets change may change.
pub fn pod(obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut causes = pod_spec(obj.get("spec"), "spec");
    causes.extend(super::ephemeral::containers(obj.get("spec"), "spec"));
    if old.is_none() {
        causes.extend(super::ephemeral::on_create(obj.get("spec")));
    }
    if let Some(old) = old {
        let mutable = |spec: &Value| {
            let mut s = spec.clone();
            if let Some(m) = s.as_object_mut() {
                for f in [
                    "activeDeadlineSeconds",
                    "tolerations",
                    "terminationGracePeriodSeconds",
                    "schedulingGates",
                ] {
                    m.remove(f);
                }
                for list in ["containers", "initContainers"] {
                    if let Some(Value::Array(cs)) = m.get_mut(list) {
                        cs.iter_mut().for_each(|c| {
                            c.as_object_mut().map(|c| c.remove("image"));
                        });
                    }
                }
            }
            s
        };
        let (new_spec, old_spec) = (obj.get("spec"), old.get("spec"));
        // Binding sets nodeName once; after that it is immutable like the rest.
        let unbound = old_spec
            .and_then(|o| o.get("nodeName"))
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
        let comparable = |spec: &Value| {
            let mut s = mutable(spec);
            if unbound && let Some(m) = s.as_object_mut() {
                m.remove("nodeName");
            }
            s
        };
        let changed = match (new_spec, old_spec) {
            (Some(n), Some(o)) => comparable(n) != comparable(o),
            _ => false,
        };
        if changed {
            causes.push(Cause::forbidden(
                "spec",
                "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
            ));
        }
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_required_and_unique() {
        let c = pod_spec(Some(&json!({"containers": []})), "spec");
        assert_eq!(c[0].field, "spec.containers");
        let c = pod_spec(
            Some(
                &json!({"containers": [{"name": "a", "image": "i"}, {"name": "a", "image": "i"}]}),
            ),
            "spec",
        );
        assert_eq!(c[0].reason, "FieldValueDuplicate");
        let c = pod_spec(
            Some(&json!({"containers": [{"name": "a", "ports": [{"containerPort": 70000}]}]})),
            "spec",
        );
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(
            c[1].message,
            "Invalid value: 70000: must be between 1 and 65535, inclusive"
        );
    }

    #[test]
    fn pod_spec_is_mostly_immutable() {
        let old = json!({"spec": {"containers": [{"name": "a", "image": "i"}]}});
        let mut new = old.clone();
        new["spec"]["containers"][0]["image"] = json!("j");
        assert!(pod(&new, Some(&old)).is_empty());
        new["spec"]["containers"][0]["command"] = json!(["sh"]);
        assert_eq!(pod(&new, Some(&old))[0].field, "spec");
        let mut bound = old.clone();
        bound["spec"]["nodeName"] = json!("node-1");
        assert!(
            pod(&bound, Some(&old)).is_empty(),
            "binding sets nodeName once"
        );
        let mut moved = bound.clone();
        moved["spec"]["nodeName"] = json!("node-2");
        assert_eq!(pod(&moved, Some(&bound))[0].field, "spec");
    }
}
