//! What every handler shares.

use crate::metrics::Metrics;
use crate::registry::Registry;

/// The API server's shared state.
pub struct Api {
    pub registry: Registry,
    pub metrics: Metrics,
}
