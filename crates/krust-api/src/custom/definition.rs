//! CustomResourceDefinitions: their defaults, validation, status and the resource-table
//! entries they make, as apiextensions-apiserver's `customresourcedefinition` strategy,
//! validation and its naming and establishing controllers do.

use super::{Custom, Scale, columns};
use crate::resources::{Resource, Subresource};
use crate::status::Cause;
use crate::validation::{dns1035_label, dns1123_label, dns1123_subdomain};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

/// The finalizer a definition carries while its objects are deleted.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// The printer-column types Kubernetes accepts.
const COLUMN_TYPES: &[&str] = &["integer", "number", "string", "boolean", "date"];

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn versions(crd: &Value) -> &[Value] {
    crd.pointer("/spec/versions")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Sets what Kubernetes defaults in a definition: the singular name and list kind from
/// the kind, and conversion strategy `None`.
pub fn set_defaults(crd: &mut Value) {
    let Some(spec) = crd.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    let kind = str_at(spec, "/names/kind").to_string();
    if let Some(names) = spec.get_mut("names").and_then(Value::as_object_mut)
        && !kind.is_empty()
    {
        if names
            .get("singular")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            names.insert("singular".into(), json!(kind.to_lowercase()));
        }
        if names
            .get("listKind")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            names.insert("listKind".into(), json!(format!("{kind}List")));
        }
    }
    if spec.get("conversion").is_none() {
        spec["conversion"] = json!({"strategy": "None"});
    }
}

/// Validates a definition (and, on update, what may not change), as
/// `ValidateCustomResourceDefinition` does for the rules a client meets.
pub fn validate(crd: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut causes = Vec::new();
    let group = str_at(crd, "/spec/group");
    let plural = str_at(crd, "/spec/names/plural");
    let name = crate::meta::name(crd);
    if name != format!("{plural}.{group}") {
        causes.push(Cause::invalid(
            "metadata.name",
            &json!(name),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    if group.is_empty() {
        causes.push(Cause::required("spec.group", ""));
    } else if !dns1123_subdomain(group).is_empty() || !group.contains('.') {
        causes.push(Cause::invalid(
            "spec.group",
            &json!(group),
            "should be a domain with at least one dot",
        ));
    }
    causes.extend(names(crd));
    let scope = crd.pointer("/spec/scope").cloned().unwrap_or(Value::Null);
    match scope.as_str() {
        Some("Namespaced" | "Cluster") => {}
        None | Some("") => causes.push(Cause::required("spec.scope", "")),
        Some(_) => causes.push(Cause::not_supported(
            "spec.scope",
            &scope,
            &["Cluster", "Namespaced"],
        )),
    }
    causes.extend(validate_versions(crd));
    // Conversion webhooks are not called: only versions that differ by apiVersion alone.
    let strategy = crd
        .pointer("/spec/conversion/strategy")
        .cloned()
        .unwrap_or(Value::Null);
    if !matches!(strategy.as_str(), None | Some("None")) {
        causes.push(Cause::not_supported(
            "spec.conversion.strategy",
            &strategy,
            &["None"],
        ));
    }
    if let Some(old) = old
        && old.pointer("/spec/scope") != crd.pointer("/spec/scope")
    {
        causes.push(Cause::invalid("spec.scope", &scope, "field is immutable"));
    }
    if let Some(old) = old
        && old.pointer("/spec/group") != crd.pointer("/spec/group")
    {
        causes.push(Cause::invalid(
            "spec.group",
            &json!(group),
            "field is immutable",
        ));
    }
    causes
}

fn names(crd: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    for field in ["plural", "singular"] {
        let value = str_at(&names, &format!("/{field}"));
        let path = format!("spec.names.{field}");
        if value.is_empty() {
            causes.push(Cause::required(path, ""));
        } else if !dns1035_label(value).is_empty() {
            let why = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
            causes.push(Cause::invalid(path, &json!(value), why));
        }
    }
    for field in ["kind", "listKind"] {
        let value = str_at(&names, &format!("/{field}"));
        let path = format!("spec.names.{field}");
        if value.is_empty() {
            causes.push(Cause::required(path, ""));
        } else if !dns1035_label(&value.to_lowercase()).is_empty() {
            causes.push(Cause::invalid(
                path,
                &json!(value),
                "may have mixed case, but should otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?",
            ));
        }
    }
    let listed = |field: &str| -> Vec<String> {
        names[field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect()
    };
    for (field, values) in [
        ("shortNames", listed("shortNames")),
        ("categories", listed("categories")),
    ] {
        for (i, v) in values.iter().enumerate() {
            if !dns1123_label(v).is_empty() {
                causes.push(Cause::invalid(
                    format!("spec.names.{field}[{i}]"),
                    &json!(v),
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
                ));
            }
        }
    }
    causes
}

fn validate_versions(crd: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let versions = versions(crd);
    if versions.is_empty() {
        causes.push(Cause::invalid(
            "spec.versions",
            &Value::Null,
            "must have exactly one version marked as storage version",
        ));
        return causes;
    }
    let storage = versions.iter().filter(|v| v["storage"] == true).count();
    if storage != 1 {
        causes.push(Cause::invalid(
            "spec.versions",
            &json!(versions),
            "must have exactly one version marked as storage version",
        ));
    }
    if !versions.iter().any(|v| v["served"] == true) {
        causes.push(Cause::invalid(
            "spec.versions",
            &json!(versions),
            "must have at least one version marked as served",
        ));
    }
    let mut seen = Vec::new();
    for (i, v) in versions.iter().enumerate() {
        let at = format!("spec.versions[{i}]");
        let name = str_at(v, "/name");
        if name.is_empty() {
            causes.push(Cause::required(format!("{at}.name"), ""));
        } else if !dns1035_label(name).is_empty() {
            causes.push(Cause::invalid(
                format!("{at}.name"),
                &json!(name),
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
            ));
        } else if seen.contains(&name) {
            causes.push(Cause::duplicate(format!("{at}.name"), &json!(name)));
        }
        seen.push(name);
        match v.pointer("/schema/openAPIV3Schema") {
            None => causes.push(Cause::required(
                format!("{at}.schema.openAPIV3Schema"),
                "schemas are required",
            )),
            Some(schema) => causes.extend(structural(
                schema,
                &format!("{at}.schema.openAPIV3Schema"),
                true,
            )),
        }
        causes.extend(subresources(v, &at));
        for (j, c) in v["additionalPrinterColumns"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = format!("{at}.additionalPrinterColumns[{j}]");
            if str_at(c, "/name").is_empty() {
                causes.push(Cause::required(format!("{at}.name"), ""));
            }
            let ty = c.get("type").cloned().unwrap_or(Value::Null);
            match ty.as_str() {
                None | Some("") => causes.push(Cause::required(format!("{at}.type"), "")),
                Some(t) if !COLUMN_TYPES.contains(&t) => causes.push(Cause::not_supported(
                    format!("{at}.type"),
                    &ty,
                    COLUMN_TYPES,
                )),
                _ => {}
            }
            let path = str_at(c, "/jsonPath");
            if path.is_empty() {
                causes.push(Cause::required(format!("{at}.jsonPath"), ""));
            } else if !columns::is_valid_path(path) {
                causes.push(Cause::invalid(
                    format!("{at}.jsonPath"),
                    &json!(path),
                    "must be a simple json path",
                ));
            }
        }
    }
    causes
}

/// The structural-schema rules a client meets first: every specified field has a type,
/// unless it preserves unknown fields or is an int-or-string; the root is an object.
fn structural(schema: &Value, at: &str, root: bool) -> Vec<Cause> {
    let mut causes = Vec::new();
    let ty = str_at(schema, "/type");
    let open = schema["x-kubernetes-preserve-unknown-fields"] == true
        || schema["x-kubernetes-int-or-string"] == true;
    if root && ty != "object" {
        if ty.is_empty() {
            causes.push(Cause::required(
                format!("{at}.type"),
                "must not be empty at the root",
            ));
        } else {
            causes.push(Cause::invalid(
                format!("{at}.type"),
                &json!(ty),
                "must be object at the root",
            ));
        }
    } else if ty.is_empty() && !open && !root {
        causes.push(Cause::required(
            format!("{at}.type"),
            "must not be empty for specified object fields",
        ));
    }
    for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
        causes.extend(structural(prop, &format!("{at}.properties[{name}]"), false));
    }
    if schema["items"].is_object() {
        causes.extend(structural(&schema["items"], &format!("{at}.items"), false));
    }
    if schema["additionalProperties"].is_object() {
        causes.extend(structural(
            &schema["additionalProperties"],
            &format!("{at}.additionalProperties"),
            false,
        ));
    }
    causes
}

fn subresources(version: &Value, at: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(scale) = version.pointer("/subresources/scale") else {
        return causes;
    };
    let at = format!("{at}.subresources.scale");
    for (field, under) in [
        ("specReplicasPath", ".spec."),
        ("statusReplicasPath", ".status."),
    ] {
        let path = str_at(scale, &format!("/{field}"));
        if path.is_empty() {
            causes.push(Cause::required(format!("{at}.{field}"), ""));
        } else if !path.starts_with(under) || path.contains('[') {
            let part = under.trim_matches('.');
            causes.push(Cause::invalid(
                format!("{at}.{field}"),
                &json!(path),
                format!("should be a json path under .{part}"),
            ));
        }
    }
    causes
}

/// The versions served, by Kubernetes' version priority: GA before beta before alpha, higher
/// numbers first, other names last in name order (the first is the preferred version).
pub fn served_versions(crd: &Value) -> Vec<String> {
    let mut served: Vec<String> = versions(crd)
        .iter()
        .filter(|v| v["served"] == true)
        .map(|v| str_at(v, "/name").to_string())
        .collect();
    served.sort_by_key(|v| priority(v));
    served
}

/// A sort key putting `v2` before `v1` before `v1beta2` before `v1beta1` before `v1alpha1`
/// before `foo`.
pub fn priority(version: &str) -> (u8, i64, i64, String) {
    let parsed = version.strip_prefix('v').and_then(|rest| {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let major: i64 = rest[..digits].parse().ok()?;
        let tail = &rest[digits..];
        let (level, minor) = match tail {
            "" => (0, "0"),
            t if t.starts_with("beta") => (1, &t[4..]),
            t if t.starts_with("alpha") => (2, &t[5..]),
            _ => return None,
        };
        let minor: i64 = if level == 0 { 0 } else { minor.parse().ok()? };
        Some((level, major, minor))
    });
    match parsed {
        Some((level, major, minor)) => (level, -major, -minor, String::new()),
        None => (3, 0, 0, version.to_string()),
    }
}

/// The names of `crd` another served resource of its group already uses, as the naming
/// controller finds them: the message of its `NamesAccepted=False` condition.
pub fn names_in_use(crd: &Value, served: &[&Resource]) -> Option<String> {
    let group = str_at(crd, "/spec/group");
    let own = crate::meta::name(crd);
    let names = &crd["spec"]["names"];
    let others: Vec<&&Resource> = served
        .iter()
        .filter(|r| r.group == group && r.custom.is_none_or(|c| c.definition != own))
        .collect();
    let plural = str_at(names, "/plural");
    if others
        .iter()
        .any(|r| r.plural == plural || r.singular == plural)
    {
        return Some(format!("{plural:?} is already in use"));
    }
    let singular = str_at(names, "/singular");
    if others
        .iter()
        .any(|r| r.plural == singular || r.singular == singular)
    {
        return Some(format!("{singular:?} is already in use"));
    }
    for short in names["shortNames"].as_array().into_iter().flatten() {
        let short = short.as_str().unwrap_or("");
        if others.iter().any(|r| r.short_names.contains(&short)) {
            return Some(format!("{short:?} is already in use"));
        }
    }
    let kind = str_at(names, "/kind");
    if others.iter().any(|r| r.kind == kind) {
        return Some(format!("{kind:?} is already in use"));
    }
    None
}

fn condition(kind: &str, ok: bool, reason: &str, message: &str, old: &Value, now: &str) -> Value {
    let status = if ok { "True" } else { "False" };
    let previous = old["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == kind && c["status"] == status);
    let since = previous
        .and_then(|c| c["lastTransitionTime"].as_str())
        .unwrap_or(now);
    json!({"type": kind, "status": status, "lastTransitionTime": since, "reason": reason, "message": message})
}

/// A definition's status, from its spec, its old status, and the names other resources of
/// its group hold (`conflict`, from [`names_in_use`]): `acceptedNames`, the `NamesAccepted`
/// and `Established` conditions (`Terminating` added once deleted), and `storedVersions`
/// (every version ever stored at, kept until a client removes it).
pub fn status(crd: &Value, conflict: Option<&str>, now: &str) -> Value {
    let old = crd.get("status").cloned().unwrap_or(json!({}));
    if crate::meta::is_terminating(crd) {
        // What was accepted stays served while the objects are deleted.
        let mut status = old.clone();
        let terminating = condition(
            "Terminating",
            true,
            "InstanceDeletionInProgress",
            "CustomResource deletion is in progress",
            &old,
            now,
        );
        let mut conditions: Vec<Value> = old["conditions"].as_array().cloned().unwrap_or_default();
        conditions.retain(|c| c["type"] != "Terminating");
        conditions.push(terminating);
        status["conditions"] = json!(conditions);
        return status;
    }
    let accepted = conflict.is_none();
    let established_before = old["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Established" && c["status"] == "True");
    let conditions = vec![
        match conflict {
            None => condition(
                "NamesAccepted",
                true,
                "NoConflicts",
                "no conflicts found",
                &old,
                now,
            ),
            Some(why) => condition("NamesAccepted", false, "NameConflict", why, &old, now),
        },
        if accepted || established_before {
            condition(
                "Established",
                true,
                "InitialNamesAccepted",
                "the initial names have been accepted",
                &old,
                now,
            )
        } else {
            condition(
                "Established",
                false,
                "NotAccepted",
                "not all names are accepted",
                &old,
                now,
            )
        },
    ];
    let accepted_names = if accepted {
        crd["spec"]["names"].clone()
    } else {
        old.get("acceptedNames")
            .cloned()
            .unwrap_or(json!({"plural": "", "kind": ""}))
    };
    let mut stored: Vec<Value> = old["storedVersions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for v in versions(crd).iter().filter(|v| v["storage"] == true) {
        if !stored.contains(&v["name"]) {
            stored.push(v["name"].clone());
        }
    }
    json!({"acceptedNames": accepted_names, "conditions": conditions, "storedVersions": stored})
}

/// Whether a definition's status says it is established (its resources are served).
pub fn is_established(crd: &Value) -> bool {
    crd.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Established" && c["status"] == "True")
}

/// The resource-table entries of an established definition, one per served version in
/// [`served_versions`] order (made once for each distinct definition and kept for the
/// process's life, as the table's static entries are).
pub fn resources(crd: &Value) -> Vec<&'static Resource> {
    if !is_established(crd) {
        return Vec::new();
    }
    served_versions(crd)
        .iter()
        .filter_map(|v| {
            let version = versions(crd).iter().find(|x| x["name"] == v.as_str())?;
            Some(intern(crd, version))
        })
        .collect()
}

/// The entry of one version, made and leaked the first time this exact entry is asked for.
fn intern(crd: &Value, version: &Value) -> &'static Resource {
    static MADE: LazyLock<Mutex<HashMap<String, &'static Resource>>> =
        LazyLock::new(Default::default);
    let accepted = crd
        .pointer("/status/acceptedNames")
        .cloned()
        .unwrap_or(Value::Null);
    let key = json!([
        crd["spec"],
        accepted,
        version["name"],
        crate::meta::is_terminating(crd)
    ])
    .to_string();
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    made.entry(key)
        .or_insert_with(|| Box::leak(Box::new(entry(crd, version))))
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn leaked_list(v: &Value) -> &'static [&'static str] {
    let list: Vec<&'static str> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(leak)
        .collect();
    Box::leak(list.into_boxed_slice())
}

fn entry(crd: &Value, version: &Value) -> Resource {
    let group = leak(str_at(crd, "/spec/group"));
    let names = crd
        .pointer("/status/acceptedNames")
        .filter(|n| n["plural"].as_str().is_some_and(|p| !p.is_empty()))
        .unwrap_or(&crd["spec"]["names"]);
    let name = leak(str_at(version, "/name"));
    let kind = leak(str_at(names, "/kind"));
    let plural = leak(str_at(names, "/plural"));
    let has_status = version.pointer("/subresources/status").is_some();
    let scale = version.pointer("/subresources/scale").map(|s| Scale {
        spec_replicas: str_at(s, "/specReplicasPath").to_string(),
        status_replicas: str_at(s, "/statusReplicasPath").to_string(),
        label_selector: s["labelSelectorPath"].as_str().map(String::from),
    });
    let mut subresources = Vec::new();
    if scale.is_some() {
        subresources.push(Subresource {
            name: "scale",
            group: "autoscaling",
            version: "v1",
            kind: "Scale",
            verbs: &["get", "patch", "update"],
        });
    }
    if has_status {
        subresources.push(Subresource {
            name: "status",
            group,
            version: name,
            kind,
            verbs: &["get", "patch", "update"],
        });
    }
    let storage_version = versions(crd)
        .iter()
        .find(|v| v["storage"] == true)
        .map(|v| str_at(v, "/name"))
        .unwrap_or(name);
    Resource {
        group,
        version: name,
        kind,
        plural,
        singular: leak(str_at(names, "/singular")),
        short_names: leaked_list(&names["shortNames"]),
        categories: leaked_list(&names["categories"]),
        namespaced: str_at(crd, "/spec/scope") == "Namespaced",
        subresources: Box::leak(subresources.into_boxed_slice()),
        storage: leak(&format!("{group}/{plural}")),
        has_status,
        custom: Some(Box::leak(Box::new(Custom {
            definition: crate::meta::name(crd).to_string(),
            storage_version: storage_version.to_string(),
            schema: version
                .pointer("/schema/openAPIV3Schema")
                .cloned()
                .unwrap_or(json!({"type": "object"})),
            columns: columns::columns(version),
            scale,
            terminating: crate::meta::is_terminating(crd),
        }))),
    }
}

#[cfg(test)]
#[path = "definition_tests.rs"]
mod tests;
