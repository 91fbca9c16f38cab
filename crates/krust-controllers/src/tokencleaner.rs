//! The token cleaner (kube-controller-manager's `tokencleaner`): a bootstrap token Secret
//! (`kube-system`, type `bootstrap.kubernetes.io/token`) is deleted once its `expiration`
//! has passed. The API server already refuses expired tokens; this removes them.

use crate::informer::{Outcome, WorkQueue, for_each_change, reflect, synced};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use std::time::Duration;

const NAMESPACE: &str = "kube-system";
const TOKEN_TYPE: &str = "bootstrap.kubernetes.io/token";

/// How long until a token Secret expires: `None` when it never does (or is no token),
/// zero when it has expired (an unreadable expiration counts as expired, as Kubernetes'
/// `isSecretExpired` treats it).
pub fn expires_in(secret: &Secret, now: jiff::Timestamp) -> Option<Duration> {
    if secret.type_.as_deref() != Some(TOKEN_TYPE) {
        return None;
    }
    let raw = secret.data.as_ref()?.get("expiration")?;
    let Some(at) = std::str::from_utf8(&raw.0)
        .ok()
        .and_then(|s| s.trim().parse::<jiff::Timestamp>().ok())
    else {
        return Some(Duration::ZERO);
    };
    Some(at.duration_since(now).try_into().unwrap_or(Duration::ZERO))
}

/// Runs the token cleaner until it fails.
pub async fn run(client: Client) -> anyhow::Result<()> {
    let api = Api::<Secret>::namespaced(client.clone(), NAMESPACE);
    let (store, events): (Store<Secret>, _) = reflect(
        api.clone(),
        watcher::Config::default().fields(&format!("type={TOKEN_TYPE}")),
    );
    let queue = WorkQueue::<String>::new();
    let changes = for_each_change(
        events,
        |s: &Secret, gone| {
            if !gone {
                queue.add(s.name_any());
            }
        },
        |_| {},
    );
    let workers = {
        let (store, queue) = (store.clone(), queue.clone());
        async move {
            synced(&[&store]).await;
            queue
                .run(1, |name| {
                    let (store, api) = (store.clone(), api.clone());
                    async move { sync(&api, &store, &name).await }
                })
                .await
        }
    };
    tokio::join!(changes, workers);
    anyhow::bail!("the tokencleaner's watch ended")
}

async fn sync(api: &Api<Secret>, store: &Store<Secret>, name: &str) -> Outcome {
    let Some(secret) = store.get(&ObjectRef::new(name).within(NAMESPACE)) else {
        return Ok(None);
    };
    match expires_in(&secret, jiff::Timestamp::now()) {
        None => Ok(None),
        Some(left) if !left.is_zero() => Ok(Some(left)),
        Some(_) => {
            tracing::info!(secret = name, "deleting an expired bootstrap token");
            match api.delete(name, &DeleteParams::default()).await {
                Ok(_) => Ok(None),
                Err(kube::Error::Api(e)) if e.code == 404 => Ok(None),
                Err(e) => Err(e.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn token(expiration: Option<&str>) -> Secret {
        let mut s = Secret {
            type_: Some(TOKEN_TYPE.into()),
            ..Default::default()
        };
        let mut data = std::collections::BTreeMap::new();
        if let Some(e) = expiration {
            data.insert("expiration".to_string(), ByteString(e.as_bytes().to_vec()));
        }
        s.data = Some(data);
        s
    }

    #[test]
    fn expired_tokens_go_and_others_wait_for_their_time() {
        let now: jiff::Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(expires_in(&token(None), now), None);
        assert_eq!(
            expires_in(&token(Some("2029-12-31T00:00:00Z")), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            expires_in(&token(Some("2030-01-01T01:00:00Z")), now),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(expires_in(&token(Some("soon")), now), Some(Duration::ZERO));
        let mut opaque = token(Some("2000-01-01T00:00:00Z"));
        opaque.type_ = Some("Opaque".into());
        assert_eq!(expires_in(&opaque, now), None);
    }
}
