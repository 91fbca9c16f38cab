//! The kubelet's streaming API behind the API server, driven by the real kubectl (over
//! WebSocket and over its SPDY fallback) and by the official Python client: a Node whose
//! kubelet endpoint is a [`krust_kubelet::server`] on loopback, backed by a fake `Streams`
//! ([`fake`]) that runs host processes for exec and attach, reads test log files and forwards
//! to local echo listeners.

mod auth;
mod cluster;
mod errors;
mod exec;
mod fake;
mod logs;
mod net;
mod port_forward;
mod python;
