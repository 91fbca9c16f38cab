//! The kubelet's HTTPS API (the kubelet's `server.go` and `pkg/kubelet/cri/streaming`):
//! container logs, exec, attach and port-forward, which the API server proxies `pods/log`,
//! `pods/exec`, `pods/attach` and `pods/portforward` to.
//!
//! - `GET /containerLogs/{ns}/{pod}/{container}` ([`logs`]);
//! - `GET|POST /exec/{ns}/{pod}/{container}?command=…`, `/attach/{ns}/{pod}/{container}`
//!   ([`exec`]): WebSocket `v5.channel.k8s.io`/`v4.channel.k8s.io` ([`channels`]) or an
//!   `Upgrade: SPDY/3.1` ([`spdy_exec`]);
//! - `GET|POST /portForward/{ns}/{pod}` ([`portforward`]): SPDY/3.1 plain or tunnelled in
//!   WebSocket (`SPDY/3.1+portforward.k8s.io`), or WebSocket `v4.channel.k8s.io` with `ports`.
//!
//! - `GET /stats/summary` ([`stats`]: the Summary API) and `GET /metrics/resource`
//!   ([`resource_metrics`]: the same as Prometheus text), from [`Streams::summary`].
//!
//! Clients present a certificate of the cluster CA ([`tls`]) or a bearer token, and the API
//! server decides what they may do ([`access`]).

pub mod access;
mod answer_cache;
mod channels;
mod exec;
pub mod logs;
mod portforward;
pub mod resource_metrics;
mod routes;
pub mod spdy;
mod spdy_exec;
pub mod spdy_session;
pub mod stats;
mod streams;
pub mod tls;
pub mod websocket;

pub use access::Access;
pub use routes::serve;
pub use streams::{Session, StreamError, Streams, exit_status};
