//! The kubelet's token manager (`pkg/kubelet/token`): service account tokens for projected
//! `serviceAccountToken` sources, requested through the TokenRequest API bound to the pod,
//! cached per pod, audience and lifetime, and requested again once 80% of a token's life
//! (or 24 hours) has passed, so the file a container reads is always valid.

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::Timestamp;
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::api::{Api, PostParams};

/// What identifies one token of a pod.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    pod_uid: String,
    audience: String,
    seconds: i64,
}

#[derive(Clone, Debug)]
struct Token {
    token: String,
    issued: Timestamp,
    expires: Timestamp,
}

/// The tokens the node's pods hold.
#[derive(Default)]
pub struct TokenManager {
    tokens: Mutex<HashMap<Key, Token>>,
}

/// The longest a token is kept before it is refreshed, whatever its lifetime.
const MAX_AGE_SECONDS: i64 = 24 * 3600;

/// Whether a token should be requested again at `now` (`requiresRefresh`).
fn requires_refresh(t: &Token, now: Timestamp) -> bool {
    let life = t.expires.as_second() - t.issued.as_second();
    let age = now.as_second() - t.issued.as_second();
    age > life * 8 / 10 || age > MAX_AGE_SECONDS
}

impl TokenManager {
    /// A token of `pod`'s service account for `audience` (the API's when empty), living
    /// `seconds`: the cached one while it is fresh, else a new one from the API server.
    pub async fn get(
        &self,
        client: &kube::Client,
        pod: &Pod,
        audience: &str,
        seconds: i64,
    ) -> Result<String, String> {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let key = Key {
            pod_uid: uid.clone(),
            audience: audience.to_string(),
            seconds,
        };
        let now = Timestamp::now();
        if let Some(t) = self.lock().get(&key).filter(|t| !requires_refresh(t, now)) {
            return Ok(t.token.clone());
        }
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
        let account = pod
            .spec
            .as_ref()
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_else(|| "default".into());
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: if audience.is_empty() {
                    Vec::new()
                } else {
                    vec![audience.to_string()]
                },
                expiration_seconds: Some(seconds),
                bound_object_ref: Some(BoundObjectReference {
                    api_version: Some("v1".into()),
                    kind: Some("Pod".into()),
                    name: pod.metadata.name.clone(),
                    uid: Some(uid),
                }),
            },
            ..Default::default()
        };
        let api: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
        let answer = api
            .create_token_request(&account, &PostParams::default(), &request)
            .await
            .map_err(|e| format!("failed to fetch token: {e}"))?;
        let status = answer
            .status
            .ok_or("failed to fetch token: the answer has no status")?;
        let token = Token {
            token: status.token.clone(),
            issued: now,
            expires: status.expiration_timestamp.0,
        };
        self.lock().insert(key, token);
        Ok(status.token)
    }

    /// Drops the tokens of a pod that is gone.
    pub fn forget(&self, pod_uid: &str) {
        self.lock().retain(|k, _| k.pod_uid != pod_uid);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Token>> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_refreshed_after_four_fifths_of_its_life_or_a_day() {
        let issued = Timestamp::from_second(1_000_000).unwrap();
        let t = Token {
            token: String::new(),
            issued,
            expires: Timestamp::from_second(1_000_000 + 3600).unwrap(),
        };
        let at = |s: i64| Timestamp::from_second(1_000_000 + s).unwrap();
        assert!(!requires_refresh(&t, at(2880)));
        assert!(requires_refresh(&t, at(2881)));
        let year = Token {
            expires: Timestamp::from_second(1_000_000 + 365 * 86400).unwrap(),
            ..t
        };
        assert!(!requires_refresh(&year, at(86400)));
        assert!(requires_refresh(&year, at(86401)));
    }
}
