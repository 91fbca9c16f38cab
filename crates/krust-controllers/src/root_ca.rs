//! The root CA publisher (kube-controller-manager's `rootcacertpublisher`): a ConfigMap
//! `kube-root-ca.crt` in every active namespace holding the cluster CA as `ca.crt`, so pods
//! can check the API server's certificate (the service account token volume projects it).
//! Made when missing, put back when deleted or changed.

use crate::informer::{Outcome, WorkQueue, for_each_change, reflect, synced};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The ConfigMap's name.
pub const NAME: &str = "kube-root-ca.crt";
const KEY: &str = "ca.crt";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";
const WORKERS: usize = 2;

struct Ctx {
    client: Client,
    ca: String,
    namespaces: Store<Namespace>,
    maps: Store<ConfigMap>,
}

/// Runs this controller, publishing `ca` (PEM), until it fails.
pub async fn run(client: Client, ca: String) -> anyhow::Result<()> {
    let (namespaces, ns_events) = reflect(
        Api::<Namespace>::all(client.clone()),
        watcher::Config::default(),
    );
    let (maps, cm_events) = reflect(
        Api::<ConfigMap>::all(client.clone()),
        watcher::Config::default().fields(&format!("metadata.name={NAME}")),
    );
    let ctx = Arc::new(Ctx {
        client,
        ca,
        namespaces,
        maps,
    });
    let queue = WorkQueue::<String>::new();
    let ns_loop = for_each_change(
        ns_events,
        |ns: &Namespace, gone| {
            if !gone {
                queue.add(ns.name_any());
            }
        },
        |_| {},
    );
    let cm_loop = for_each_change(
        cm_events,
        |cm: &ConfigMap, _| {
            if let Some(ns) = cm.namespace() {
                queue.add(ns);
            }
        },
        |done| {
            if done {
                for ns in ctx.namespaces.state() {
                    queue.add(ns.name_any());
                }
            }
        },
    );
    let workers = {
        let (ctx, queue) = (ctx.clone(), queue.clone());
        async move {
            synced(&[&ctx.namespaces, &ctx.maps]).await;
            queue
                .run(WORKERS, |ns| {
                    let ctx = ctx.clone();
                    async move { ctx.sync(&ns).await }
                })
                .await
        }
    };
    tokio::join!(ns_loop, cm_loop, workers);
    anyhow::bail!("the root CA publisher's watches ended")
}

impl Ctx {
    async fn sync(&self, namespace: &str) -> Outcome {
        let Some(ns) = self.namespaces.get(&ObjectRef::new(namespace)) else {
            return Ok(None);
        };
        let terminating = ns.metadata.deletion_timestamp.is_some()
            || ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating");
        if terminating {
            return Ok(None);
        }
        let data = BTreeMap::from([(KEY.to_string(), self.ca.clone())]);
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), namespace);
        let current = self.maps.get(&ObjectRef::new(NAME).within(namespace));
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
}
