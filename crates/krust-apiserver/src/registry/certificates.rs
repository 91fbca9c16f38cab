//! The write rules of CertificateSigningRequests (Kubernetes' `pkg/registry/certificates`
//! strategies): the main resource changes only metadata, `/status` may not touch the
//! Approved and Denied conditions, `/approval` changes only the conditions; condition
//! timestamps are filled in. `spec.username`, `uid` and `groups` come from the requester
//! ([`set_requester`]), never from the body.

use super::Part;
use crate::auth::Identity;
use serde_json::{Value, json};

/// The requester as the CSR's `spec.username/uid/groups/extra` (as its authenticator knows
/// them), as the create strategy's `PrepareForCreate` does with the user of the request.
pub fn set_requester(obj: &mut Value, who: &Identity) {
    if !obj["spec"].is_object() {
        obj["spec"] = json!({});
    }
    let spec = obj["spec"].as_object_mut().expect("an object");
    spec.insert("username".into(), json!(who.user));
    spec.insert("groups".into(), json!(who.groups));
    spec.remove("uid");
    spec.remove("extra");
    if !who.uid.is_empty() {
        spec.insert("uid".into(), json!(who.uid));
    }
    if !who.extra.is_empty() {
        spec.insert("extra".into(), json!(who.extra));
    }
}

/// Carries over from `old` what a write through `part` may not change.
pub(super) fn prepare_update(obj: &mut Value, old: &Value, part: Part) {
    let new_conditions = obj.pointer("/status/conditions").cloned();
    obj["spec"] = old["spec"].clone();
    match part {
        Part::Approval => {
            obj["status"] = old.get("status").cloned().unwrap_or(json!({}));
            set_conditions(obj, new_conditions);
        }
        Part::Status => {
            if !obj["status"].is_object() {
                obj["status"] = json!({});
            }
            // The approval conditions stay as they were: only `/approval` sets them.
            let approval = |c: &&Value| matches!(c["type"].as_str(), Some("Approved" | "Denied"));
            let mut conditions: Vec<Value> = old
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(approval)
                .cloned()
                .collect();
            conditions.extend(
                new_conditions
                    .as_ref()
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|c| !approval(c))
                    .cloned(),
            );
            set_conditions(obj, Some(Value::Array(conditions)));
        }
        _ => {
            obj["status"] = old.get("status").cloned().unwrap_or(json!({}));
            return;
        }
    }
    stamp_conditions(obj, old);
}

fn set_conditions(obj: &mut Value, conditions: Option<Value>) {
    let status = obj["status"].as_object_mut().expect("an object");
    match conditions {
        Some(Value::Array(c)) if !c.is_empty() => {
            status.insert("conditions".into(), Value::Array(c));
        }
        _ => {
            status.remove("conditions");
        }
    }
}

/// `populateConditionTimestamps`: a condition without `lastUpdateTime` gets now; one whose
/// status changed (or is new) without `lastTransitionTime` gets now.
fn stamp_conditions(obj: &mut Value, old: &Value) {
    let now = krust_api::meta::now();
    let old_status = |kind: &Value| {
        old.pointer("/status/conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|c| &c["type"] == kind)
            .map(|c| (c["status"].clone(), c.get("lastTransitionTime").cloned()))
    };
    let Some(conditions) = obj
        .pointer_mut("/status/conditions")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for c in conditions {
        if c.get("lastUpdateTime").is_none_or(Value::is_null) {
            c["lastUpdateTime"] = json!(now);
        }
        if c.get("lastTransitionTime").is_none_or(Value::is_null) {
            c["lastTransitionTime"] = match old_status(&c["type"]) {
                Some((status, Some(t))) if status == c["status"] => t,
                _ => json!(now),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csr(conditions: Value, cert: &str) -> Value {
        json!({"metadata": {"name": "c"}, "spec": {"signerName": "a.b/c", "username": "u"},
               "status": {"conditions": conditions, "certificate": cert}})
    }

    #[test]
    fn approval_changes_only_the_conditions() {
        let old = csr(json!([]), "");
        let mut new = csr(json!([{"type": "Approved", "status": "True"}]), "forged");
        new["spec"]["username"] = json!("someone-else");
        prepare_update(&mut new, &old, Part::Approval);
        assert_eq!(new["spec"]["username"], "u");
        assert_eq!(new["status"]["certificate"], "");
        assert_eq!(new["status"]["conditions"][0]["type"], "Approved");
        assert!(new["status"]["conditions"][0]["lastUpdateTime"].is_string());
    }

    #[test]
    fn status_keeps_the_approval_and_main_keeps_the_status() {
        let old = csr(json!([{"type": "Approved", "status": "True"}]), "");
        let mut new = csr(json!([{"type": "Denied", "status": "True"}]), "Y2VydA==");
        prepare_update(&mut new, &old, Part::Status);
        assert_eq!(new["status"]["conditions"][0]["type"], "Approved");
        assert_eq!(new["status"]["conditions"].as_array().unwrap().len(), 1);
        assert_eq!(new["status"]["certificate"], "Y2VydA==");
        let mut main = csr(json!([]), "x");
        prepare_update(&mut main, &old, Part::Main);
        assert_eq!(main["status"], old["status"]);
    }

    #[test]
    fn the_requester_is_the_user_of_the_request() {
        let mut obj = json!({"spec": {"username": "forged", "uid": "1", "extra": {"a": ["b"]}}});
        let who = Identity {
            user: "system:bootstrap:abcdef".into(),
            groups: vec!["system:bootstrappers".into(), "system:authenticated".into()],
            ..Identity::default()
        };
        set_requester(&mut obj, &who);
        assert_eq!(
            obj["spec"],
            json!({"username": "system:bootstrap:abcdef",
                   "groups": ["system:bootstrappers", "system:authenticated"]})
        );
    }
}
