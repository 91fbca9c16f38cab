//! Ephemeral containers, as Kubernetes' `validateEphemeralContainers` (each container:
//! names unique across every container of the pod, an existing non-ephemeral target,
//! only the fields its allow-list names) and `ValidatePodEphemeralContainersUpdate` (the
//! `pods/ephemeralcontainers` subresource adds containers, never changes or removes one).

use super::pod;
use crate::status::Cause;
use serde_json::{Value, json};
use std::collections::HashSet;

/// The fields of `EphemeralContainerCommon` an ephemeral container may not set (those
/// outside Kubernetes' `allowedEphemeralContainerFields`), in the struct's order, which is
/// the order Kubernetes reports them in.
const FORBIDDEN_FIELDS: &[&str] = &[
    "ports",
    "resources",
    "resizePolicy",
    "restartPolicy",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
];

const NOT_FOR_EPHEMERAL: &str = "cannot be set for an Ephemeral Container";

/// Whether a field holds something other than its Go zero value (absent, null, `{}`, `""`,
/// `false` or `0`).
fn is_set(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Object(m)) => !m.is_empty(),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::Array(_)) => true,
    }
}

fn names(spec: &Value, list: &str) -> Vec<String> {
    spec.get(list)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

/// Validates `spec.ephemeralContainers` of a pod spec at `path` (`spec`).
pub fn containers(spec: Option<&Value>, path: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(spec) = spec else {
        return causes;
    };
    let Some(list) = spec.get("ephemeralContainers").and_then(Value::as_array) else {
        return causes;
    };
    let others: HashSet<String> = names(spec, "containers")
        .into_iter()
        .chain(names(spec, "initContainers"))
        .collect();
    let mut seen = others.clone();
    for (i, c) in list.iter().enumerate() {
        let at = format!("{path}.ephemeralContainers[{i}]");
        pod::container(c, &at, &mut seen, &mut causes);
        if let Some(target) = c.get("targetContainerName").and_then(Value::as_str)
            && !target.is_empty()
            && !others.contains(target)
        {
            causes.push(Cause::not_found(
                format!("{at}.targetContainerName"),
                &json!(target),
            ));
        }
        for f in FORBIDDEN_FIELDS {
            if is_set(c.get(*f)) {
                causes.push(Cause::forbidden(format!("{at}.{f}"), NOT_FOR_EPHEMERAL));
            }
        }
        let mounts = c.get("volumeMounts").and_then(Value::as_array);
        for (j, m) in mounts.into_iter().flatten().enumerate() {
            for f in ["subPath", "subPathExpr"] {
                if is_set(m.get(f)) {
                    let field = format!("{at}.volumeMounts[{j}].{f}");
                    causes.push(Cause::forbidden(field, NOT_FOR_EPHEMERAL));
                }
            }
        }
    }
    causes
}

/// `spec.ephemeralContainers: Forbidden: cannot be set on create`, for a new pod that names
/// some.
pub fn on_create(spec: Option<&Value>) -> Option<Cause> {
    let list = spec?.get("ephemeralContainers")?.as_array()?;
    (!list.is_empty())
        .then(|| Cause::forbidden("spec.ephemeralContainers", "cannot be set on create"))
}

/// `spec.template.spec.ephemeralContainers: Forbidden: …`, for a pod template that names
/// some.
pub fn in_template(spec: Option<&Value>, path: &str) -> Option<Cause> {
    let list = spec?.get("ephemeralContainers")?.as_array()?;
    (!list.is_empty()).then(|| {
        Cause::forbidden(
            format!("{path}.ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        )
    })
}

/// A write through `pods/ephemeralcontainers`: the pod's spec is valid, and every ephemeral
/// container `old` has is still there, unchanged (the list may be reordered, as patches do).
pub fn update(obj: &Value, old: &Value) -> Vec<Cause> {
    let static_pod = old
        .pointer("/metadata/annotations/kubernetes.io~1config.mirror")
        .is_some();
    if static_pod {
        return vec![Cause::forbidden(
            "",
            "static pods do not support ephemeral containers",
        )];
    }
    let mut causes = pod::pod_spec(obj.get("spec"), "spec");
    causes.extend(containers(obj.get("spec"), "spec"));
    let list = |o: &Value| -> Vec<Value> {
        o.pointer("/spec/ephemeralContainers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let new = list(obj);
    for before in list(old) {
        let name = before.get("name").and_then(Value::as_str).unwrap_or("");
        let now = new
            .iter()
            .find(|c| c.get("name").and_then(Value::as_str) == Some(name));
        match now {
            None => causes.push(Cause::forbidden(
                "spec.ephemeralContainers",
                format!("existing ephemeral containers {name:?} may not be removed\n"),
            )),
            Some(now) if *now != before => causes.push(Cause::forbidden(
                format!("spec.ephemeralContainers[{name}]"),
                format!(
                    "existing ephemeral containers {name:?} may not be changed\n{}",
                    diff(&before, now)
                ),
            )),
            Some(_) => {}
        }
    }
    causes
}

/// The fields that differ, one `-`/`+` pair each, as a short stand-in for Go's `cmp.Diff`.
fn diff(old: &Value, new: &Value) -> String {
    let empty = serde_json::Map::new();
    let (o, n) = (
        old.as_object().unwrap_or(&empty),
        new.as_object().unwrap_or(&empty),
    );
    let mut keys: Vec<&String> = o.keys().chain(n.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = String::new();
    for k in keys {
        let (a, b) = (o.get(k), n.get(k));
        if a == b {
            continue;
        }
        if let Some(a) = a {
            out.push_str(&format!("-\t{k}: {a}\n"));
        }
        if let Some(b) = b {
            out.push_str(&format!("+\t{k}: {b}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(ephemeral: Value) -> Value {
        json!({"spec": {
            "initContainers": [{"name": "init", "image": "i"}],
            "containers": [{"name": "app", "image": "i"}],
            "ephemeralContainers": ephemeral,
        }})
    }

    fn fields(causes: &[Cause]) -> Vec<String> {
        causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect()
    }

    #[test]
    fn a_debug_container_as_kubectl_adds_it_is_valid() {
        let p = pod(
            json!([{"name": "debugger-x", "image": "busybox", "stdin": true,
            "tty": true, "targetContainerName": "app", "resources": {},
            "terminationMessagePolicy": "File"}]),
        );
        assert!(containers(p.get("spec"), "spec").is_empty());
    }

    #[test]
    fn names_are_unique_across_every_container_of_the_pod() {
        let p = pod(
            json!([{"name": "app", "image": "i"}, {"name": "init", "image": "i"},
            {"name": "d", "image": "i"}, {"name": "d", "image": "i"}]),
        );
        assert_eq!(
            fields(&containers(p.get("spec"), "spec")),
            [
                "spec.ephemeralContainers[0].name: Duplicate value: \"app\"",
                "spec.ephemeralContainers[1].name: Duplicate value: \"init\"",
                "spec.ephemeralContainers[3].name: Duplicate value: \"d\"",
            ]
        );
    }

    #[test]
    fn the_target_must_be_a_container_that_is_not_ephemeral() {
        let p = pod(json!([{"name": "a", "image": "i"},
            {"name": "b", "image": "i", "targetContainerName": "a"},
            {"name": "c", "image": "i", "targetContainerName": "init"}]));
        assert_eq!(
            fields(&containers(p.get("spec"), "spec")),
            ["spec.ephemeralContainers[1].targetContainerName: Not found: \"a\""]
        );
    }

    #[test]
    fn ports_probes_lifecycle_and_resources_are_forbidden() {
        let p = pod(json!([{"name": "d", "image": "",
            "lifecycle": {"preStop": {"exec": {"command": ["x"]}}},
            "ports": [{"containerPort": 80}],
            "resources": {"limits": {"cpu": "1"}},
            "readinessProbe": {"tcpSocket": {"port": 80}},
            "volumeMounts": [{"name": "v", "mountPath": "/v", "subPath": "x"}]}]));
        assert_eq!(
            fields(&containers(p.get("spec"), "spec")),
            [
                "spec.ephemeralContainers[0].image: Required value",
                "spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container",
                "spec.ephemeralContainers[0].resources: Forbidden: cannot be set for an Ephemeral Container",
                "spec.ephemeralContainers[0].readinessProbe: Forbidden: cannot be set for an Ephemeral Container",
                "spec.ephemeralContainers[0].lifecycle: Forbidden: cannot be set for an Ephemeral Container",
                "spec.ephemeralContainers[0].volumeMounts[0].subPath: Forbidden: cannot be set for an Ephemeral Container",
            ]
        );
    }

    #[test]
    fn existing_ephemeral_containers_may_be_reordered_but_not_changed_or_removed() {
        let one = json!({"name": "a", "image": "i"});
        let two = json!({"name": "b", "image": "i"});
        let old = pod(json!([one, two]));
        assert!(update(&pod(json!([two, one])), &old).is_empty());
        let removed = update(&pod(json!([one])), &old);
        assert_eq!(
            fields(&removed),
            [
                "spec.ephemeralContainers: Forbidden: existing ephemeral containers \"b\" may not be removed\n"
            ]
        );
        let changed = update(&pod(json!([one, {"name": "b", "image": "j"}])), &old);
        assert_eq!(changed[0].field, "spec.ephemeralContainers[b]");
        assert!(
            changed[0]
                .message
                .starts_with("Forbidden: existing ephemeral containers \"b\" may not be changed\n"),
            "{}",
            changed[0].message
        );
    }

    #[test]
    fn pods_and_templates_may_not_be_created_with_ephemeral_containers() {
        let p = pod(json!([{"name": "d", "image": "i"}]));
        assert_eq!(
            fields(&[on_create(p.get("spec")).unwrap()]),
            ["spec.ephemeralContainers: Forbidden: cannot be set on create"]
        );
        assert!(on_create(pod(json!([])).get("spec")).is_none());
        assert_eq!(
            in_template(p.get("spec"), "spec.template.spec")
                .unwrap()
                .field,
            "spec.template.spec.ephemeralContainers"
        );
    }
}
