//! The krust controller manager: one module per control loop. Every controller is a client of
//! the API (kube-rs watchers, reflectors and `Controller`s); none reaches into another's memory.
//!
//! A controller module never imports a sibling controller: what two of them share lives in a
//! module named for what it holds (`controller_ref`, `discovery`, `endpoint_util`, `error`,
//! `pod_control`, `pod_util`, `selector`, `service_pods`, besides `informer` and `events`).
#![forbid(unsafe_code)]

pub mod certificates;
pub(crate) mod controller_ref;
pub mod deployment;
pub(crate) mod discovery;
pub(crate) mod endpoint_util;
pub mod endpoints;
pub mod endpointslice;
pub(crate) mod error;
pub mod garbage_collector;
pub mod informer;
pub mod informers;
pub mod namespace;
pub mod node_ipam;
pub mod node_lifecycle;
pub(crate) mod per_namespace;
pub(crate) mod pod_control;
pub(crate) mod pod_util;
pub mod replicaset;
pub mod root_ca;
pub(crate) mod selector;
pub(crate) mod service_pods;
pub mod serviceaccount;
pub mod tokencleaner;

use krust_component::supervise::supervise;
use kube::Client;
use std::time::Duration;

/// Settings of the controller manager (kube-controller-manager's flags of the same names).
#[derive(Clone, Debug)]
pub struct Options {
    /// `--node-monitor-grace-period`: silence after which a node is marked not ready.
    pub node_monitor_grace_period: Duration,
    /// `--cluster-cidr`: the pod network nodes get their `podCIDR` from.
    pub cluster_cidr: krust_api::cidr::Cidr,
    /// `--cluster-signing-cert-file`/`-key-file` and `--root-ca-file`: the cluster CA, which
    /// the CSR signer signs with and the root CA publisher publishes (neither runs without).
    pub signing_ca: Option<certificates::signer::Ca>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            node_monitor_grace_period: Duration::from_secs(40),
            cluster_cidr: node_ipam::Options::default().cluster_cidr,
            signing_ca: None,
        }
    }
}

/// Runs every controller with default settings; see [`run_all_with`].
pub async fn run_all(client: Client) -> anyhow::Result<()> {
    run_all_with(client, Options::default()).await
}

/// Runs every controller, each as a task of its own under [`supervise`]: one that fails
/// (returns or panics) is logged and restarted after a backoff while the others go on.
/// Never resolves; dropping the future stops every controller.
pub async fn run_all_with(client: Client, opts: Options) -> anyhow::Result<()> {
    let lifecycle = node_lifecycle::Options {
        grace_period: opts.node_monitor_grace_period,
        monitor_period: (opts.node_monitor_grace_period / 8)
            .clamp(Duration::from_millis(200), Duration::from_secs(5)),
        ..node_lifecycle::Options::default()
    };
    let ipam = node_ipam::Options {
        cluster_cidr: opts.cluster_cidr,
        ..node_ipam::Options::default()
    };
    let c = &client;
    // The controllers' shared watches, one per kind (pods are read by five of them).
    let informers = &informers::Informers::new(client.clone());
    let with_ca = async {
        match &opts.signing_ca {
            Some(ca) => {
                let never = tokio::join!(
                    supervise("csrsigning", || certificates::signer::run(
                        c.clone(),
                        ca.clone()
                    )),
                    supervise("root-ca-cert-publisher", || {
                        root_ca::run(c.clone(), ca.cert.clone())
                    }),
                );
                match never.0 {}
            }
            None => std::future::pending::<std::convert::Infallible>().await,
        }
    };
    let never = tokio::join!(
        with_ca,
        supervise("csrapproving", || certificates::approver::run(c.clone())),
        supervise("replicaset", || replicaset::run(informers.clone())),
        supervise("deployment", || deployment::run(informers.clone())),
        supervise("endpoints", || endpoints::run(informers.clone())),
        supervise("endpointslice", || endpointslice::run(informers.clone())),
        supervise("garbage-collector", || garbage_collector::run(c.clone())),
        supervise("namespace", || namespace::run(c.clone())),
        supervise("node-ipam", || node_ipam::run_with(c.clone(), ipam.clone())),
        supervise("node-lifecycle", || {
            node_lifecycle::run_with(informers.clone(), lifecycle.clone())
        }),
        supervise("serviceaccount", || serviceaccount::run(c.clone())),
        supervise("tokencleaner", || tokencleaner::run(c.clone())),
    );
    match never.0 {}
}
