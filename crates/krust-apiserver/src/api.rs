//! `Api`: what every handler shares (the registry, the metrics, the watch cache and the
//! kubelet client, the token issuer).

use crate::kubelet_client::KubeletClient;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::watch_cache::WatchCache;

/// The API server's shared state.
pub struct Api {
    pub registry: Registry,
    pub metrics: Metrics,
    /// Values decoded once for every watcher.
    pub watch_cache: WatchCache,
    /// Dials kubelets for `pods/log`, `exec`, `attach` and `portforward`.
    pub kubelets: KubeletClient,
    /// Issues and checks service account tokens.
    pub tokens: crate::tokens::Tokens,
    /// The cluster CA (PEM), served at `/cacerts`.
    pub ca_cert: String,
}
