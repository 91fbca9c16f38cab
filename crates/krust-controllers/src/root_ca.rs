//! The root CA publisher (kube-controller-manager's `rootcacertpublisher`): a ConfigMap
//! `kube-root-ca.crt` in every active namespace holding the cluster CA as `ca.crt`, so pods
//! can check the API server's certificate (the service account token volume projects it).
//! Made when missing, put back when deleted or changed (through `per_namespace`).

use crate::informer::Outcome;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The ConfigMap's name.
pub const NAME: &str = "kube-root-ca.crt";
const KEY: &str = "ca.crt";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// Runs this controller, publishing `ca` (PEM), until it fails.
pub async fn run(client: Client, ca: String) -> anyhow::Result<()> {
    let api = client.clone();
    crate::per_namespace::run(client, NAME, "root CA publisher", move |ns, cm| {
        sync(api.clone(), ca.clone(), ns, cm)
    })
    .await
}

async fn sync(
    client: Client,
    ca: String,
    namespace: String,
    current: Option<Arc<ConfigMap>>,
) -> Outcome {
    let data = BTreeMap::from([(KEY.to_string(), ca)]);
    let api: Api<ConfigMap> = Api::namespaced(client, &namespace);
    let result = match current {
        Some(cm) if cm.data.as_ref() == Some(&data) => return Ok(None),
        Some(cm) => {
            let mut cm = (*cm).clone();
            cm.data = Some(data);
            api.replace(NAME, &PostParams::default(), &cm)
                .await
                .map(drop)
        }
        None => {
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(NAME.into()),
                    annotations: Some(BTreeMap::from([(
                        "kubernetes.io/description".to_string(),
                        DESCRIPTION.to_string(),
                    )])),
                    ..Default::default()
                },
                data: Some(data),
                ..Default::default()
            };
            api.create(&PostParams::default(), &cm).await.map(drop)
        }
    };
    match result {
        Ok(()) => Ok(None),
        // Our store is behind (409), or the namespace is going away.
        Err(kube::Error::Api(e)) if matches!(e.code, 409 | 403 | 404) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
