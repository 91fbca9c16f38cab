//! `POST …/serviceaccounts/<name>/token`: a TokenRequest answered with a fresh token, as
//! kube-apiserver's `pkg/registry/core/serviceaccount/storage/token.go`: audiences default
//! to the API's, `expirationSeconds` to an hour (at least 10 minutes), and a token bound to
//! a Pod (and through it its Node), Node or Secret that exists with the UID given.

use krust_api::resources::find;
use krust_api::status::{ApiError, Cause};
use serde_json::{Value, json};

use super::claims::{Claims, Private, Ref, username};
use crate::handlers::Call;
use crate::respond;

const GROUP: &str = "authentication.k8s.io";
const DEFAULT_SECONDS: i64 = 3600;
const MIN_SECONDS: i64 = 600;

/// Issues the token a TokenRequest `body` asks for.
pub async fn token_request(call: &Call, body: &[u8]) -> Result<axum::response::Response, ApiError> {
    let mut request = crate::negotiate::decode_object(&call.headers, body)?;
    let namespace = call.namespace().unwrap_or("default").to_string();
    let name = call.name().to_string();
    let invalid = |cause: Cause| ApiError::invalid(GROUP, "TokenRequest", &name, vec![cause]);
    let spec = &mut request["spec"];
    if !spec.is_object() {
        *spec = json!({});
    }
    let seconds = spec["expirationSeconds"]
        .as_i64()
        .unwrap_or(DEFAULT_SECONDS);
    spec["expirationSeconds"] = json!(seconds);
    if seconds < MIN_SECONDS {
        let why = "may not specify a duration less than 10 minutes";
        return Err(invalid(Cause::invalid(
            "spec.expirationSeconds",
            &json!(seconds),
            why,
        )));
    }
    if seconds > 1 << 32 {
        let why = "may not specify a duration larger than 2^32 seconds";
        return Err(invalid(Cause::invalid(
            "spec.expirationSeconds",
            &json!(seconds),
            why,
        )));
    }
    let audiences: Vec<String> = match spec["audiences"].as_array() {
        Some(a) if !a.is_empty() => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => call.api.tokens.audiences.clone(),
    };
    spec["audiences"] = json!(audiences);

    let account = get(call, "serviceaccounts", Some(&namespace), &name).await?;
    let mut private = Private {
        namespace: namespace.clone(),
        serviceaccount: reference(&account),
        ..Private::default()
    };
    if let Some(bound) = spec.get("boundObjectRef").filter(|b| b.is_object()) {
        let kind = bound["kind"].as_str().unwrap_or("");
        let object = bound["name"].as_str().unwrap_or("").to_string();
        let (plural, ns) = match (bound["apiVersion"].as_str(), kind) {
            (Some("v1"), "Pod") => ("pods", Some(namespace.as_str())),
            (Some("v1"), "Secret") => ("secrets", Some(namespace.as_str())),
            (Some("v1"), "Node") => ("nodes", None),
            _ => {
                let gvk = format!(
                    "{}, Kind={kind}",
                    bound["apiVersion"].as_str().unwrap_or("")
                );
                return Err(ApiError::bad_request(format!(
                    "cannot bind token for serviceaccount {name:?} to object of kind {gvk:?}"
                )));
            }
        };
        let target = get(call, plural, ns, &object).await?;
        let found = reference(&target);
        if let Some(uid) = bound["uid"]
            .as_str()
            .filter(|u| !u.is_empty() && *u != found.uid)
        {
            return Err(ApiError::conflict(
                "",
                plural,
                &object,
                &format!(
                    "the UID in the bound object reference ({uid}) does not match the UID in record. The object might have been deleted and then recreated"
                ),
            ));
        }
        match kind {
            "Pod" => {
                let runs_as = target
                    .pointer("/spec/serviceAccountName")
                    .and_then(Value::as_str);
                if runs_as.is_some_and(|sa| sa != name) {
                    return Err(ApiError::bad_request(format!(
                        "cannot bind token for serviceaccount {name:?} to pod running with different serviceaccount name."
                    )));
                }
                let node = target.pointer("/spec/nodeName").and_then(Value::as_str);
                if let Some(node) = node.filter(|n| !n.is_empty()) {
                    let node = get(call, "nodes", None, node).await.ok();
                    private.node = node.map(|n| reference(&n));
                }
                private.pod = Some(found);
            }
            "Secret" => private.secret = Some(found),
            _ => private.node = Some(found),
        }
    }
    let now = jiff::Timestamp::now();
    let claims = Claims {
        iss: call.api.tokens.issuer.clone(),
        sub: username(&namespace, &name),
        aud: audiences,
        iat: now.as_second(),
        nbf: now.as_second(),
        exp: now.as_second() + seconds,
        jti: krust_api::meta::new_uid(),
        kubernetes: private,
    };
    let expires = jiff::Timestamp::from_second(claims.exp).unwrap_or(now);
    let token = if call.params.dry_run()? {
        String::new()
    } else {
        call.api.tokens.sign(&claims)
    };
    request["apiVersion"] = json!("authentication.k8s.io/v1");
    request["kind"] = json!("TokenRequest");
    request["metadata"] = json!({
        "name": name,
        "namespace": namespace,
        "creationTimestamp": krust_api::meta::now(),
    });
    request["status"] = json!({
        "token": token,
        "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    });
    Ok(respond::json(201, &request))
}

/// A core object.
async fn get(call: &Call, plural: &str, ns: Option<&str>, name: &str) -> Result<Value, ApiError> {
    let resource = find("", "v1", plural).expect("a core resource");
    call.api.registry.get(resource, ns, name).await
}

/// An object's name and UID.
fn reference(object: &Value) -> Ref {
    let field = |f| {
        krust_api::meta::meta_str(object, f)
            .unwrap_or("")
            .to_string()
    };
    Ref {
        name: field("name"),
        uid: field("uid"),
    }
}
