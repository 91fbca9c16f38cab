//! The certificate controllers of kube-controller-manager: [`approver`] (csrapproving, plus
//! the kubelet serving approval that kubelet-csr-approver adds) and [`signer`] (csrsigning
//! for the `kubernetes.io/kube-apiserver-client-kubelet`, `kubernetes.io/kubelet-serving`
//! and `kubernetes.io/kube-apiserver-client` signers, with the cluster CA). `usages.rs` is
//! what both read of a request's usages.

pub mod approver;
pub mod signer;
mod usages;

use crate::informer::{WorkQueue, for_each_change, reflect, synced};
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use std::future::Future;
use std::sync::Arc;

/// Whether the request has a condition of `kind` with status `True`.
pub(crate) fn has_condition(csr: &CertificateSigningRequest, kind: &str) -> bool {
    csr.status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .any(|c| c.type_ == kind && c.status == "True")
}

/// Runs `sync` for every CertificateSigningRequest that changes (and all of them after a
/// relist), one at a time per name, retried with backoff when it fails.
pub(crate) async fn each_request<F, Fut>(client: Client, name: &str, sync: F) -> anyhow::Result<()>
where
    F: Fn(Arc<CertificateSigningRequest>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = crate::informer::Outcome> + Send,
{
    let (store, events): (Store<CertificateSigningRequest>, _) = reflect(
        Api::<CertificateSigningRequest>::all(client),
        watcher::Config::default(),
    );
    let queue = WorkQueue::<String>::new();
    let changes = for_each_change(
        events,
        |csr: &CertificateSigningRequest, gone| {
            if !gone {
                queue.add(csr.name_any());
            }
        },
        |done| {
            if done {
                for csr in store.state() {
                    queue.add(csr.name_any());
                }
            }
        },
    );
    let workers = {
        let (store, queue) = (store.clone(), queue.clone());
        async move {
            synced(&[&store]).await;
            queue
                .run(1, |key| {
                    let csr = store.get(&kube::runtime::reflector::ObjectRef::new(&key));
                    let sync = &sync;
                    async move {
                        match csr {
                            Some(csr) => sync(csr).await,
                            None => Ok(None),
                        }
                    }
                })
                .await
        }
    };
    tokio::join!(changes, workers);
    anyhow::bail!("the {name} controller's watch ended")
}
