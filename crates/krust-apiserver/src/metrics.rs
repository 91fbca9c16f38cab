//! `/metrics` in the Prometheus text format.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    verb: String,
    resource: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    verb: String,
    resource: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceLabels {
    resource: String,
}

type Latency = Family<LatencyLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Latency,
    watchers: Family<ResourceLabels, Gauge>,
    revision: Gauge,
}

/// Counts one open watch until dropped.
pub struct WatchGuard(Gauge);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: Latency = Family::new_with_constructor(latency_histogram);
        let watchers = Family::<ResourceLabels, Gauge>::default();
        let revision = Gauge::default();
        registry.register(
            "apiserver_request",
            "Requests by verb, resource and HTTP code",
            requests.clone(),
        );
        registry.register(
            "apiserver_request_duration_seconds",
            "Request latency by verb and resource (watches excluded)",
            latency.clone(),
        );
        registry.register(
            "apiserver_registered_watchers",
            "Open watches by resource",
            watchers.clone(),
        );
        registry.register(
            "krust_store_revision",
            "The store's current revision",
            revision.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            watchers,
            revision,
        }
    }
}

impl Metrics {
    /// Records one finished request.
    pub fn observe(&self, verb: &str, resource: &str, code: u16, took: Duration) {
        let (verb, resource) = (verb.to_string(), resource.to_string());
        self.requests
            .get_or_create(&RequestLabels {
                verb: verb.clone(),
                resource: resource.clone(),
                code: code.to_string(),
            })
            .inc();
        self.latency
            .get_or_create(&LatencyLabels { verb, resource })
            .observe(took.as_secs_f64());
    }

    /// Counts a watch on `resource` while the guard lives.
    pub fn watcher(&self, resource: &str) -> WatchGuard {
        let g = self
            .watchers
            .get_or_create(&ResourceLabels {
                resource: resource.to_string(),
            })
            .clone();
        g.inc();
        WatchGuard(g)
    }

    /// The text exposition, with the store revision as of now.
    pub fn render(&self, revision: i64) -> String {
        self.revision.set(revision);
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
