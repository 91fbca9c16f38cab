//! The periodic resync of running pods' configMap, secret, downwardAPI and projected
//! volumes: the kubelet's volume manager remounts them on every pod sync (at least once per
//! `syncFrequency`), so a changed ConfigMap or Secret, or new labels and annotations, reach
//! the files of a running container atomically. krust resyncs every [`PERIOD`] from the pod
//! watch (`pods.rs`), one pass at a time, and only volumes already set up.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;

use super::Shared;
use super::prepare;

/// How often the volumes are rewritten from the current objects (the kubelet's
/// `syncFrequency` is a minute; its ConfigMap cache adds its TTL on top).
pub const PERIOD: Duration = Duration::from_secs(10);

/// Whether the pod has volumes a resync rewrites, and is not being deleted.
pub fn wanted(pod: &Pod) -> bool {
    if pod.metadata.deletion_timestamp.is_some() {
        return false;
    }
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .any(|v| {
            v.config_map.is_some()
                || v.secret.is_some()
                || v.downward_api.is_some()
                || v.projected.is_some()
        })
}

/// Rewrites the volumes of `pods` whose content changed.
pub async fn volumes(shared: Arc<Shared>, pods: Vec<Arc<Pod>>) {
    for pod in pods {
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        match prepare::update_volumes(&shared, &pod).await {
            Ok(changed) if !changed.is_empty() => {
                tracing::info!(pod = %name, volumes = ?changed, "volumes updated");
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(pod = %name, error = %e, "updating volumes"),
        }
    }
}
