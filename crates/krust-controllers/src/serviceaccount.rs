//! The service account controller: a `default` ServiceAccount in every active namespace,
//! created when missing and re-created when deleted. Namespaces and `default` accounts are
//! watched into stores; a sync reads only those.

use crate::informer::{Outcome, WorkQueue, for_each_change, reflect, synced};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use std::sync::Arc;

/// The account every namespace gets.
pub const DEFAULT: &str = "default";
const WORKERS: usize = 2;

struct Ctx {
    client: Client,
    namespaces: Store<Namespace>,
    accounts: Store<ServiceAccount>,
}

/// Runs this controller until it fails.
pub async fn run(client: Client) -> anyhow::Result<()> {
    let (namespaces, ns_events) = reflect(
        Api::<Namespace>::all(client.clone()),
        watcher::Config::default(),
    );
    let (accounts, sa_events) = reflect(
        Api::<ServiceAccount>::all(client.clone()),
        watcher::Config::default().fields(&format!("metadata.name={DEFAULT}")),
    );
    let ctx = Arc::new(Ctx {
        client,
        namespaces,
        accounts,
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
    let sa_loop = for_each_change(
        sa_events,
        |sa: &ServiceAccount, gone| {
            if gone && let Some(ns) = sa.namespace() {
                queue.add(ns);
            }
        },
        // After a relist, deletions may have been missed: look at every namespace.
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
            synced(&[&ctx.namespaces, &ctx.accounts]).await;
            queue
                .run(WORKERS, |ns| {
                    let ctx = ctx.clone();
                    async move { ctx.sync(&ns).await }
                })
                .await
        }
    };
    tokio::join!(ns_loop, sa_loop, workers);
    anyhow::bail!("the serviceaccount controller's watches ended")
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
        if self
            .accounts
            .get(&ObjectRef::new(DEFAULT).within(namespace))
            .is_some()
        {
            return Ok(None);
        }
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), namespace);
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
}
