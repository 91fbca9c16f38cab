//! `Api`: what every handler shares (the registry, the metrics and the watch cache).

use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::watch_cache::WatchCache;

/// The API server's shared state.
pub struct Api {
    pub registry: Registry,
    pub metrics: Metrics,
    /// Values decoded once for every watcher.
    pub watch_cache: WatchCache,
}
