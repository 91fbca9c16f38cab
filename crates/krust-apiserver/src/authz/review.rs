//! The authorization.k8s.io/v1 reviews, as kube-apiserver's `pkg/registry/authorization`:
//! a SubjectAccessReview asks whether a user may do something (what a kubelet's webhook
//! authorizer asks), a LocalSubjectAccessReview asks it within one namespace, a
//! SelfSubjectAccessReview asks it for the caller (`kubectl auth can-i`), and a
//! SelfSubjectRulesReview lists what the caller may do (`kubectl auth can-i --list`). None is
//! stored; each is answered with its `status` filled in.

use std::collections::BTreeMap;

use krust_api::status::{ApiError, Cause};
use serde_json::{Value, json};

use super::{Attributes, node, roles};
use crate::auth::Identity;
use crate::handlers::Call;
use crate::respond;

const GROUP: &str = "authorization.k8s.io";

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The attributes a review's `spec` asks about, or its validation errors.
fn attributes(spec: &Value) -> Result<Attributes, Vec<Cause>> {
    let resource = spec.get("resourceAttributes").filter(|v| !v.is_null());
    let path = spec.get("nonResourceAttributes").filter(|v| !v.is_null());
    match (resource, path) {
        (Some(r), None) => Ok(Attributes::resource(
            text(r, "/verb"),
            text(r, "/group"),
            text(r, "/resource"),
            text(r, "/subresource"),
            text(r, "/namespace"),
            text(r, "/name"),
        )),
        (None, Some(p)) => Ok(Attributes::non_resource(text(p, "/verb"), text(p, "/path"))),
        (Some(_), Some(p)) => Err(vec![Cause::invalid(
            "spec.nonResourceAttributes",
            p,
            "cannot be specified in combination with resourceAttributes",
        )]),
        (None, None) => Err(vec![Cause::invalid(
            "spec.resourceAttributes",
            &Value::Null,
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )]),
    }
}

/// The user a SubjectAccessReview names.
fn subject(spec: &Value) -> Identity {
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let extra: BTreeMap<String, Vec<String>> = spec
        .get("extra")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), strings(Some(v))))
                .collect()
        })
        .unwrap_or_default();
    Identity {
        user: text(spec, "/user").to_string(),
        uid: text(spec, "/uid").to_string(),
        groups: strings(spec.get("groups")),
        extra,
    }
}

/// `subjectaccessreviews`, `localsubjectaccessreviews` and `selfsubjectaccessreviews`.
pub async fn access_review(call: &Call, body: &[u8]) -> Result<axum::response::Response, ApiError> {
    let kind = call.target.resource.kind;
    let mut review = crate::negotiate::decode_object(&call.headers, body)?;
    let spec = review.get("spec").cloned().unwrap_or(Value::Null);
    let invalid = |causes| ApiError::invalid(GROUP, kind, "", causes);
    let attributes = attributes(&spec).map_err(invalid)?;
    let who = if kind == "SelfSubjectAccessReview" {
        call.identity.clone()
    } else {
        let who = subject(&spec);
        if who.user.is_empty() && who.groups.is_empty() {
            let why = "at least one of user or group must be specified";
            return Err(invalid(vec![Cause::invalid("spec.user", &json!(""), why)]));
        }
        who
    };
    if let Some(namespace) = &call.target.namespace {
        local(&mut review, &attributes, namespace)?;
    }
    let decision = super::decide(&who, &attributes);
    let mut status = json!({"allowed": decision.allowed});
    if !decision.reason.is_empty() {
        status["reason"] = json!(decision.reason);
    }
    review["status"] = status;
    answer(review, kind)
}

/// A LocalSubjectAccessReview's rules: resources only, in the namespace of its path.
fn local(review: &mut Value, a: &Attributes, namespace: &str) -> Result<(), ApiError> {
    if a.group.is_none() {
        let attributes = review.pointer("/spec/nonResourceAttributes").cloned();
        let cause = Cause::invalid(
            "spec.nonResourceAttributes",
            &attributes.unwrap_or_default(),
            "disallowed on this kind of request",
        );
        return Err(ApiError::invalid(
            GROUP,
            "LocalSubjectAccessReview",
            "",
            vec![cause],
        ));
    }
    let declared = text(review, "/metadata/namespace");
    if !declared.is_empty() && declared != namespace {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    if a.namespace != namespace {
        return Err(ApiError::bad_request(format!(
            "spec.resourceAttributes.namespace must match namespace: {namespace}"
        )));
    }
    if !review["metadata"].is_object() {
        review["metadata"] = json!({});
    }
    review["metadata"]["namespace"] = json!(namespace);
    Ok(())
}

/// `selfsubjectrulesreviews`: the caller's rules, incomplete for a node (whose rights the
/// Node authorizer decides per request, as Kubernetes' says of itself).
pub async fn rules_review(call: &Call, body: &[u8]) -> Result<axum::response::Response, ApiError> {
    let mut review = crate::negotiate::decode_object(&call.headers, body)?;
    review["status"] = rules(&call.identity);
    answer(review, call.target.resource.kind)
}

/// A `SubjectRulesReviewStatus` for `who`.
fn rules(who: &Identity) -> Value {
    let mut resource_rules = Vec::new();
    let mut path_rules = Vec::new();
    for role in roles::rules_of(&who.groups) {
        for r in role.resources {
            resource_rules
                .push(json!({"verbs": r.verbs, "apiGroups": r.groups, "resources": r.resources}));
        }
        for p in role.paths {
            path_rules.push(json!({"verbs": p.verbs, "nonResourceURLs": p.paths}));
        }
    }
    let mut status = json!({
        "resourceRules": resource_rules,
        "nonResourceRules": path_rules,
        "incomplete": false,
    });
    if node::node_of(&who.user, &who.groups).is_some() {
        status["incomplete"] = json!(true);
        status["evaluationError"] = json!("node authorizer does not support user rule resolution");
    }
    status
}

fn answer(mut review: Value, kind: &str) -> Result<axum::response::Response, ApiError> {
    review["apiVersion"] = json!(format!("{GROUP}/v1"));
    review["kind"] = json!(kind);
    let metadata = review
        .get("metadata")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    review["metadata"] = metadata;
    review["metadata"]["creationTimestamp"] = Value::Null;
    Ok(respond::json(201, &review))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(user: &str, groups: &[&str]) -> Identity {
        Identity {
            user: user.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Identity::default()
        }
    }

    #[test]
    fn a_review_asks_about_resources_or_paths_never_both() {
        let a = attributes(&json!({"resourceAttributes": {"verb": "get", "resource": "nodes", "subresource": "proxy", "name": "n1"}})).unwrap();
        assert_eq!(a.group.as_deref(), Some(""));
        assert_eq!((a.resource.as_str(), a.name.as_str()), ("nodes", "n1"));
        let p =
            attributes(&json!({"nonResourceAttributes": {"verb": "get", "path": "/api"}})).unwrap();
        assert_eq!((p.group, p.path.as_str()), (None, "/api"));
        let both = json!({"resourceAttributes": {}, "nonResourceAttributes": {"path": "/"}});
        assert_eq!(
            attributes(&both).unwrap_err()[0].field,
            "spec.nonResourceAttributes"
        );
        let none = attributes(&json!({})).unwrap_err();
        assert_eq!(
            none[0].message,
            "Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified"
        );
    }

    #[test]
    fn a_subject_is_read_with_its_groups_uid_and_extra() {
        let s = subject(&json!({"user": "u", "uid": "1", "groups": ["g"], "extra": {"k": ["v"]}}));
        assert_eq!(s.user, "u");
        assert_eq!(s.groups, vec!["g".to_string()]);
        assert_eq!(s.extra["k"], vec!["v".to_string()]);
    }

    #[test]
    fn rules_list_the_roles_of_the_callers_groups_and_are_incomplete_for_nodes() {
        let admin = rules(&who("admin", &["system:masters", "system:authenticated"]));
        assert_eq!(admin["resourceRules"][0]["verbs"], json!(["*"]));
        assert_eq!(admin["incomplete"], json!(false));
        let sa = rules(&who("system:serviceaccount:d:x", &["system:authenticated"]));
        let resources: Vec<&Value> = sa["resourceRules"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["resources"].as_array().unwrap())
            .collect();
        assert!(resources.contains(&&json!("selfsubjectaccessreviews")));
        assert!(!resources.contains(&&json!("*")));
        let node = rules(&who(
            "system:node:n1",
            &["system:nodes", "system:authenticated"],
        ));
        assert_eq!(node["incomplete"], json!(true));
    }
}
