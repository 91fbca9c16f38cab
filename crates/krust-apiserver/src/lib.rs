//! The krust API server: HTTPS with client certificates, REST handlers over the store,
//! watch, discovery, OpenAPI, Table printing and metrics.
#![forbid(unsafe_code)]

mod api;
mod auth;
mod authz;
mod bootstrap;
pub mod bootstrap_token;
mod custom;
mod discovery;
mod handlers;
mod kubelet_client;
mod local;
mod metrics;
mod negotiate;
mod openapi;
mod path;
mod pki;
mod registry;
mod resource_metrics;
mod respond;
mod selectable;
mod server;
mod table;
mod tls;
mod tokens;
mod watch_cache;

pub use auth::Identity;
pub use local::Local;
pub use pki::Pki;
pub use registry::{NODE_PORTS, parse_node_ports};
pub use server::{Config, Running, start, start_with_store};
