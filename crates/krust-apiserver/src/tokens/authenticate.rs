//! Bearer service account tokens as identities (kube-apiserver's JWT token authenticator
//! with the service account validator, `pkg/serviceaccount/claims.go`): the token must be
//! this cluster's, unexpired, for one of the audiences, and every object it names must
//! still exist with the UID it names (a token bound to a deleted pod is dead).

use std::collections::BTreeMap;

use krust_api::resources::find;
use serde_json::Value;

use super::claims::{Ref, username};
use crate::api::Api;
use crate::auth::Identity;

/// The identity of `token` for `audiences` (the API's own when `None`): `None` when the
/// token is no JWT, else the service account's identity or why it is refused.
pub async fn authenticate(
    api: &Api,
    token: &str,
    audiences: Option<&[String]>,
) -> Option<Result<Identity, String>> {
    let audiences = audiences.unwrap_or(&api.tokens.audiences);
    let now = jiff::Timestamp::now().as_second();
    let claims = match api.tokens.read(token, audiences, now)? {
        Ok(c) => c,
        Err(e) => return Some(Err(e)),
    };
    let k = &claims.kubernetes;
    let ns = k.namespace.as_str();
    let bound = [
        (
            "serviceaccounts",
            Some(ns),
            Some(&k.serviceaccount),
            "service account",
        ),
        ("pods", Some(ns), k.pod.as_ref(), "pod"),
        ("secrets", Some(ns), k.secret.as_ref(), "secret"),
        ("nodes", None, k.node.as_ref(), "node"),
    ];
    for (plural, namespace, reference, what) in bound {
        let Some(reference) = reference else { continue };
        if let Err(e) = still_there(api, plural, namespace, reference, what, now).await {
            return Some(Err(e));
        }
    }
    let mut extra = BTreeMap::new();
    let mut add = |key: &str, value: &str| {
        extra.insert(
            format!("authentication.kubernetes.io/{key}"),
            vec![value.to_string()],
        );
    };
    add("credential-id", &format!("JTI={}", claims.jti));
    if let Some(pod) = &k.pod {
        add("pod-name", &pod.name);
        add("pod-uid", &pod.uid);
    }
    if let Some(node) = &k.node {
        add("node-name", &node.name);
        add("node-uid", &node.uid);
    }
    Some(Ok(Identity {
        user: username(ns, &k.serviceaccount.name),
        uid: k.serviceaccount.uid.clone(),
        groups: vec![
            "system:serviceaccounts".into(),
            format!("system:serviceaccounts:{ns}"),
            "system:authenticated".into(),
        ],
        extra,
    }))
}

/// Whether the object a token names exists with the same UID, and is not being deleted
/// for more than a minute (kube-apiserver's grace for a bound pod's token).
async fn still_there(
    api: &Api,
    plural: &str,
    namespace: Option<&str>,
    reference: &Ref,
    what: &str,
    now: i64,
) -> Result<(), String> {
    let resource = find("", "v1", plural).expect("a core resource");
    let invalidated = || "service account token has been invalidated".to_string();
    let object = api
        .registry
        .get(resource, namespace, &reference.name)
        .await
        .map_err(|_| invalidated())?;
    let uid = krust_api::meta::meta_str(&object, "uid").unwrap_or("");
    if uid != reference.uid {
        return Err(format!(
            "{what} UID ({uid}) does not match claim ({})",
            reference.uid
        ));
    }
    let deleted = object
        .pointer("/metadata/deletionTimestamp")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    if deleted.is_some_and(|t| t.as_second() + 60 < now) {
        return Err(invalidated());
    }
    Ok(())
}
