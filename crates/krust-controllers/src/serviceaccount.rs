//! The service account controller: a `default` ServiceAccount in every active namespace,
//! created when missing and re-created when deleted (through `per_namespace`).

use crate::informer::Outcome;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use std::sync::Arc;

/// The account every namespace gets.
pub const DEFAULT: &str = "default";

/// Runs this controller until it fails.
pub async fn run(client: Client) -> anyhow::Result<()> {
    let api = client.clone();
    crate::per_namespace::run(
        client,
        DEFAULT,
        "serviceaccount controller",
        move |ns, sa| sync(api.clone(), ns, sa),
    )
    .await
}

async fn sync(client: Client, namespace: String, account: Option<Arc<ServiceAccount>>) -> Outcome {
    if account.is_some() {
        return Ok(None);
    }
    let api: Api<ServiceAccount> = Api::namespaced(client, &namespace);
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(DEFAULT.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    match api.create(&PostParams::default(), &sa).await {
        Ok(_) => {
            tracing::debug!(namespace, "created the default service account");
            Ok(None)
        }
        // Already there (our store is behind), or the namespace is going away.
        Err(kube::Error::Api(e)) if matches!(e.code, 409 | 403 | 404) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
