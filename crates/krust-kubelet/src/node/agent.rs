//! The real node's agent: [`RealNode::start`] registers the host as a Node (`register.rs`:
//! capacity and nodeInfo read from the host by `host.rs`), keeps its Lease and status fresh,
//! waits for the node's `spec.podCIDR` to set up the pod network, runs one worker per pod
//! bound to it (`pods.rs`, `worker.rs`), programs the routes to the other nodes' pods
//! (`peers.rs`), and serves the cluster DNS on the pod bridge's gateway (`cluster_dns.rs`).
//! Stopping the agent leaves containers running: a new agent adopts them.

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeMap;

use anyhow::Context as _;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use krust_api::cidr::Cidr;
use krust_image::ImageStore;
use krust_net::peers::{Mode, PeerNetwork};
use krust_net::policy::PolicyEnforcer;
use krust_net::proxy::ServiceProxy;
use krust_net::{NetworkConfig, PodNetwork};
use krust_runtime::{Runtime, RuntimeConfig};
use kube::Api;
use tokio::sync::{OnceCell, watch};
use tokio::task::JoinHandle;

use crate::events::Recorder;

use super::{
    cluster_dns, host, images, network_policy, peers, pods, proxy, register, reset, stats, streams,
    tokens,
};

/// How a real node runs.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// The Node's name (the kubelet: the host name, lowercased).
    pub name: String,
    /// Where the node keeps images, container state, pod volumes and logs.
    pub data_dir: PathBuf,
    /// The address the node registers (InternalIP) and serves the kubelet API on.
    pub address: IpAddr,
    /// The kubelet API's port (10250).
    pub kubelet_port: u16,
    /// argv prefix that runs a container monitor (`[krust, "monitor"]`).
    pub monitor: Vec<OsString>,
    /// Pod cgroups live under `/sys/fs/cgroup/<controller>/<cgroup_root>/kubepods`.
    pub cgroup_root: String,
    /// The pod bridge.
    pub bridge: String,
    pub cluster_cidr: Cidr,
    pub service_cidr: Cidr,
    /// How pods reach other nodes' pods (`krust_net::peers`).
    pub pod_network: Mode,
    /// Registries pulled over plain HTTP (`localhost:5000`).
    pub insecure_registries: Vec<String>,
    /// The resolver configuration pods with `dnsPolicy: Default` get and the cluster DNS
    /// forwards to (the kubelet's `--resolv-conf`).
    pub resolv_conf: PathBuf,
    pub lease_interval: Duration,
    pub status_interval: Duration,
    /// The kubelet API's certificate (signed by the cluster CA, for the node's name and
    /// address) and the CA its clients must hold certificates of.
    pub tls: KubeletTls,
}

/// PEM texts of the kubelet API's TLS.
#[derive(Clone, Debug, Default)]
pub struct KubeletTls {
    pub ca_cert: String,
    pub cert: String,
    pub key: String,
}

impl NodeOptions {
    /// Defaults for this host: named after it, its primary address, `/var/lib/krust/node`.
    pub fn for_host(data_dir: PathBuf, monitor: Vec<OsString>, tls: KubeletTls) -> Self {
        NodeOptions {
            name: host::hostname(),
            data_dir,
            address: host::primary_ip(),
            kubelet_port: 10250,
            monitor,
            cgroup_root: "krust".into(),
            bridge: "krust0".into(),
            cluster_cidr: "10.42.0.0/16".parse().expect("cidr"),
            service_cidr: "10.43.0.0/16".parse().expect("cidr"),
            pod_network: Mode::default(),
            insecure_registries: Vec::new(),
            resolv_conf: "/etc/resolv.conf".into(),
            lease_interval: Duration::from_secs(10),
            status_interval: Duration::from_secs(60),
            tls,
        }
    }
}

/// What the node's tasks share.
pub(crate) struct Shared {
    pub client: kube::Client,
    pub opts: NodeOptions,
    pub name: String,
    pub host_ip: String,
    pub runtime: Runtime,
    pub images: images::ImageManager,
    /// The service account tokens of the node's pods.
    pub tokens: tokens::TokenManager,
    /// The node's allocatable resources (for `resourceFieldRef` limits left unset).
    pub allocatable: BTreeMap<String, Quantity>,
    pub events: Recorder,
    /// `spec.podCIDR` as last seen.
    pub pod_cidr: watch::Sender<Option<Cidr>>,
    /// The last CPU readings, for rates (`/stats/summary`).
    pub stats: stats::Sampler,
    /// When the agent started (the Summary's node `startTime`).
    pub started: String,
    network: OnceCell<PodNetwork>,
    /// The service proxy, once started (stopped with the agent).
    pub proxy: std::sync::OnceLock<ServiceProxy>,
    /// The pod network towards the other nodes, once started (stopped with the agent).
    pub peers: std::sync::OnceLock<PeerNetwork>,
    /// The NetworkPolicy enforcer, once started (its rules removed with the agent).
    pub policies: std::sync::OnceLock<PolicyEnforcer>,
}

impl Shared {
    /// The pod network, set up once the node has its pod CIDR.
    pub async fn network(&self) -> Result<&PodNetwork, String> {
        self.network
            .get_or_try_init(|| async {
                let mut rx = self.pod_cidr.subscribe();
                let cidr = rx
                    .wait_for(Option::is_some)
                    .await
                    .map_err(|e| e.to_string())?
                    .expect("some");
                reset::record(&self.opts, Some(cidr)).map_err(|e| e.to_string())?;
                let config = NetworkConfig {
                    bridge: self.opts.bridge.clone(),
                    cluster_cidr: self.opts.cluster_cidr,
                    service_cidr: self.opts.service_cidr,
                    mtu: self.pod_mtu().await,
                    ..NetworkConfig::new(cidr, self.opts.data_dir.join("net"))
                };
                PodNetwork::setup(config)
                    .await
                    .map_err(|e| format!("setting up the pod network: {e}"))
            })
            .await
    }

    /// The pods' MTU: the MTU of the link with the node's address (1500 if none has it, or
    /// the address is loopback's), less what the pod network's mode adds.
    async fn pod_mtu(&self) -> u32 {
        let underlay = match self.opts.address {
            IpAddr::V4(ip) if !ip.is_loopback() => krust_net::peers::underlay_mtu(ip, None).await,
            _ => Ok(None),
        };
        let underlay = underlay.ok().flatten().unwrap_or(1500).min(65535);
        self.opts.pod_network.pod_mtu(underlay)
    }

    /// The pod's image pull Secrets that exist.
    pub async fn pull_secrets(&self, pod: &Pod) -> Vec<Secret> {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let names = pod
            .spec
            .iter()
            .flat_map(|s| s.image_pull_secrets.iter().flatten())
            .filter_map(|r| Some(r.name.clone()).filter(|n| !n.is_empty()));
        let mut secrets = Vec::new();
        for name in names {
            if let Ok(Some(s)) = api.get_opt(&name).await {
                secrets.push(s);
            }
        }
        secrets
    }

    pub fn pods_dir(&self) -> PathBuf {
        self.opts.data_dir.join("pods")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.opts.data_dir.join("logs")
    }
}

/// Serves the kubelet API (logs, exec, attach, port-forward, stats) for the node's containers.
async fn serve(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    shared: Arc<Shared>,
) {
    let access = crate::server::Access::new(shared.client.clone(), shared.name.clone());
    let streams = Arc::new(streams::NodeStreams(shared));
    if let Err(e) = crate::server::serve(listener, tls, streams, access).await {
        tracing::error!(error = %e, "the kubelet API stopped");
    }
}

/// A running real node. Dropping it leaves its tasks running; [`RealNode::shutdown`] stops
/// the agent (containers keep running).
pub struct RealNode {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl RealNode {
    /// Registers the node and starts its heartbeats and pod workers.
    pub async fn start(client: kube::Client, mut opts: NodeOptions) -> anyhow::Result<RealNode> {
        let listener = tokio::net::TcpListener::bind((opts.address, opts.kubelet_port))
            .await
            .with_context(|| format!("the kubelet port {}:{}", opts.address, opts.kubelet_port))?;
        opts.kubelet_port = listener.local_addr()?.port();
        let tls =
            crate::server::tls::server_config(&opts.tls.ca_cert, &opts.tls.cert, &opts.tls.key)?;
        std::fs::create_dir_all(&opts.data_dir)
            .with_context(|| format!("creating {}", opts.data_dir.display()))?;
        reset::record(&opts, None)?;
        let runtime = Runtime::new(RuntimeConfig {
            root: opts.data_dir.join("runtime"),
            monitor: opts.monitor.clone(),
            cgroup_root: opts.cgroup_root.clone(),
        })
        .context("starting the container runtime")?;
        if let Err(why) = krust_runtime::favor_dynamic_changes() {
            tracing::info!(%why, "container starts will wait for the kernel's cgroup grace periods");
        }
        let events = Recorder::correlated(client.clone());
        let store = ImageStore::open(krust_image::store_dir(&opts.data_dir))
            .context("opening the image store")?;
        let sink = events.clone();
        let images = images::ImageManager::new(
            Arc::new(store),
            images::ImageManagerOptions {
                node_name: opts.name.clone(),
                insecure_registries: opts.insecure_registries.clone(),
                ..Default::default()
            },
            Arc::new(move |record| sink.emit(record)),
        );
        let host = host::Host::read(&opts.data_dir);
        let shared = Arc::new(Shared {
            allocatable: register::allocatable(&host),
            events,
            client,
            name: opts.name.clone(),
            host_ip: opts.address.to_string(),
            runtime,
            images,
            tokens: Default::default(),
            pod_cidr: watch::Sender::new(None),
            stats: Default::default(),
            started: krust_api::meta::now(),
            network: OnceCell::new(),
            proxy: Default::default(),
            peers: Default::default(),
            policies: Default::default(),
            opts,
        });
        let heartbeat = register::register(&shared).await?;
        let tasks = vec![
            tokio::spawn(register::heartbeats(shared.clone(), heartbeat)),
            tokio::spawn(register::watch(shared.clone())),
            tokio::spawn(pods::watch(shared.clone())),
            tokio::spawn(serve(listener, tls, shared.clone())),
            tokio::spawn(stats::housekeeping(shared.clone())),
            tokio::spawn(proxy::run(shared.clone())),
            tokio::spawn(peers::run(shared.clone())),
            tokio::spawn(network_policy::run(shared.clone())),
            tokio::spawn(cluster_dns::serve(shared.clone())),
        ];
        tracing::info!(node = %shared.name, address = %shared.host_ip, "real node registered");
        Ok(RealNode { shared, tasks })
    }

    /// The Node's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Stops the agent's tasks, removes its service rules (kube-proxy's `--cleanup`; a new
    /// agent writes them again before anything else changes) and its routes to the other
    /// nodes' pods, and withdraws its DNS server's endpoint; containers keep running.
    pub async fn shutdown(self) {
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
        if let Some(proxy) = self.shared.proxy.get()
            && let Err(e) = proxy.stop().await
        {
            tracing::warn!(error = %e, "removing the service rules");
        }
        if let Some(peers) = self.shared.peers.get()
            && let Err(e) = peers.stop().await
        {
            tracing::warn!(error = %e, "removing the routes to other nodes' pods");
        }
        if let Some(policies) = self.shared.policies.get()
            && let Err(e) = policies.stop().await
        {
            tracing::warn!(error = %e, "removing the network policy rules");
        }
        cluster_dns::withdraw(&self.shared).await;
    }
}
