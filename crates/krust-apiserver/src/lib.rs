//! The krust API server: HTTPS with client certificates, REST handlers over the store,
//! watch, discovery, OpenAPI, Table printing and metrics.
#![forbid(unsafe_code)]

pub mod auth;
mod bootstrap;
mod discovery;
mod handlers;
mod local;
pub mod metrics;
mod negotiate;
mod openapi;
mod path;
pub mod pki;
pub mod registry;
mod respond;
mod selectable;
mod server;
mod state;
mod table;
pub mod tls;
mod watch_cache;

pub use local::Local;
pub use server::{Config, Running, start, start_with_store};
