//! `krust server`: the control plane (API server over the embedded store, scheduler and
//! controller manager) and, as root on Linux, this host as a real node (as `k3s server`
//! does), optionally with simulated nodes beside it.

use crate::node_flags::NodeFlags;
use crate::sim;
use krust_component::supervise::supervise;
use krust_kubelet::node::{KubeletTls, NodeOptions, RealNode};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Options of `krust server`.
#[derive(clap::Args)]
pub struct Args {
    /// Where the store, the cluster PKI and the kubeconfig live.
    #[arg(long, default_value = "/var/lib/krust")]
    data_dir: PathBuf,
    /// Address to listen on (port 0 picks a free port). Every address by default, as
    /// kube-apiserver and k3s do, so that pods (through the `kubernetes` Service, which leads
    /// to this host's address) and other hosts reach it; kubectl's kubeconfig names 127.0.0.1.
    #[arg(long, default_value = "0.0.0.0:6443")]
    listen: SocketAddr,
    /// The range Service cluster IPs come from.
    #[arg(long, default_value = "10.43.0.0/16")]
    service_cidr: String,
    /// The ports NodePort and LoadBalancer Services get on every node, as kube-apiserver's
    /// flag (`krust start` gives each further profile a range of its own).
    #[arg(long, default_value = "30000-32767")]
    service_node_port_range: String,
    /// Serve the API only: no scheduler, no controllers (objects stay as written).
    #[arg(long)]
    api_only: bool,
    /// Register this many simulated nodes (`sim-node-0`, …) that run pods without containers.
    #[arg(long, default_value_t = 0)]
    sim_nodes: usize,
    /// The pod network; each node gets a /24 of it.
    #[arg(long, default_value = "10.42.0.0/16")]
    cluster_cidr: String,
    /// Do not run this host as a node (the control plane only, with any sim nodes).
    #[arg(long)]
    disable_agent: bool,
    #[command(flatten)]
    node: NodeFlags,
    /// The real node's address (InternalIP; default: the source address of the default
    /// route), as k3s' `--node-ip`.
    #[arg(long)]
    node_ip: Option<std::net::IpAddr>,
    /// How pods reach other nodes' pods, as k3s' `--flannel-backend`: `routes` (the nodes
    /// share one L2 segment) or `vxlan` (an overlay over any IP network). Joining agents
    /// follow it.
    #[arg(long, default_value = "routes")]
    pod_network: krust_net::peers::Mode,
    /// How long a node may stay silent before it is marked not ready (sim nodes renew their
    /// leases four times as often).
    #[arg(long, default_value = "40s", value_parser = parse_duration)]
    node_monitor_grace_period: Duration,
    /// Start a session of its own (`krust start` runs the server so).
    #[arg(long, hide = true)]
    pub detached: bool,
}

/// `40s`, `2m`, `24h`, `500ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 40s"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("{s:?}: the unit must be ms, s, m or h")),
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let cluster_cidr: krust_api::cidr::Cidr = args
        .cluster_cidr
        .parse()
        .map_err(|e| anyhow::anyhow!("--cluster-cidr {}: {e}", args.cluster_cidr))?;
    let config = krust_apiserver::Config {
        data_dir: args.data_dir.clone(),
        listen: args.listen,
        service_cidr: args.service_cidr.clone(),
        node_ports: krust_apiserver::parse_node_ports(&args.service_node_port_range)
            .map_err(|e| anyhow::anyhow!("--service-node-port-range: {e}"))?,
        service_account_admission: !args.api_only,
    };
    let running = krust_apiserver::start(config).await?;
    // The components in this process reach the API through the in-process transport, each
    // under its own name (Kubernetes' users for them).
    let client = |user: &str| kube::Client::new(running.local(user), "default");
    // Told to stop, the scheduler and the controller manager give their Leases up, so that
    // the next server (`krust start` after `krust stop`) schedules at once.
    let (stopping, stop) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut stop = stop.clone();
        async move {
            let _ = stop.wait_for(|s| *s).await;
        }
    };
    let mut leaders = Vec::new();
    if !args.api_only {
        let identity = format!("krust-{}", std::process::id());
        let scheduler = client("system:kube-scheduler");
        leaders.push(tokio::spawn(krust_component::leader::lead(
            scheduler.clone(),
            "kube-scheduler",
            identity.clone(),
            stopped(),
            move || {
                let client = scheduler.clone();
                async move {
                    // Restarted when it fails, as each controller is; never returns.
                    let never = supervise("scheduler", || krust_scheduler::run(client.clone()));
                    match never.await {}
                }
            },
        )));
        let controllers = client("system:kube-controller-manager");
        let opts = krust_controllers::Options {
            node_monitor_grace_period: args.node_monitor_grace_period,
            cluster_cidr,
            signing_ca: Some(krust_controllers::certificates::signer::Ca {
                cert: running.pki.ca_cert.clone(),
                key: running.pki.ca_key.clone(),
            }),
        };
        leaders.push(tokio::spawn(krust_component::leader::lead(
            controllers.clone(),
            "kube-controller-manager",
            identity,
            stopped(),
            move || krust_controllers::run_all_with(controllers.clone(), opts.clone()),
        )));
    }
    publish_cluster_config(&client("system:kube-controller-manager"), &args).await?;
    let nodes = if args.sim_nodes > 0 {
        let client = client("system:krust-sim-nodes");
        Some(sim::start(client, args.sim_nodes, args.node_monitor_grace_period).await?)
    } else {
        None
    };
    let node = if args.disable_agent {
        None
    } else if !rustix::process::geteuid().is_root() {
        tracing::warn!("not root: this host does not run as a node (--disable-agent to say so)");
        None
    } else {
        let name = args.node.name();
        let client = client(&format!("system:node:{name}"));
        let address = args
            .node_ip
            .unwrap_or_else(krust_kubelet::node::host::primary_ip);
        let (cert, key) = running.pki.kubelet_serving(&name, &[address])?;
        let tls = KubeletTls {
            ca_cert: running.pki.ca_cert.clone(),
            cert,
            key,
        };
        let mut opts = NodeOptions::for_host(args.data_dir.clone(), crate::monitor_argv()?, tls);
        opts.name = name;
        opts.address = address;
        args.node.apply(&mut opts);
        opts.cluster_cidr = cluster_cidr;
        opts.service_cidr = args
            .service_cidr
            .parse()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        opts.pod_network = args.pod_network;
        Some(RealNode::start(client, opts).await?)
    };
    // One line on stdout for people and scripts: where kubectl's configuration is.
    println!(
        "krust API server at {}; kubeconfig: {}",
        running.url,
        running.kubeconfig.display()
    );
    let join_url = if args.listen.ip().is_unspecified() {
        let ip = krust_kubelet::node::host::primary_ip();
        format!("https://{}", SocketAddr::new(ip, running.addr.port()))
    } else {
        running.url.clone()
    };
    println!(
        "to join a node: krust agent --server {join_url} --token $(cat {})",
        args.data_dir.join("token").display()
    );
    tokio::select! {
        r = running.task => r??,
        r = crate::stop_requested() => r?,
    }
    let _ = stopping.send(true);
    let released = async {
        for leader in leaders {
            let _ = leader.await;
        }
    };
    // The nodes clean up (rules, routes, DNS endpoint) while the leaders give their Leases
    // up, not after: whoever stopped the server may kill it once a few seconds have passed.
    let nodes_down = async {
        if let Some(nodes) = nodes {
            nodes.shutdown().await;
        }
        if let Some(node) = node {
            node.shutdown().await;
        }
    };
    let released = tokio::time::timeout(std::time::Duration::from_secs(5), released);
    let _ = tokio::join!(released, nodes_down);
    Ok(())
}

/// Writes what joining nodes need to know of the cluster into `kube-system/krust-config`
/// (as kubeadm's `kubeadm-config`): its pod and service ranges and its pod network mode.
async fn publish_cluster_config(client: &kube::Client, args: &Args) -> anyhow::Result<()> {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, Patch, PatchParams};
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    let config = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": crate::agent::CLUSTER_CONFIG},
        "data": {
            "clusterCIDR": args.cluster_cidr,
            "serviceCIDR": args.service_cidr,
            "podNetwork": args.pod_network.as_str(),
        },
    });
    api.patch(
        crate::agent::CLUSTER_CONFIG,
        &PatchParams::apply("krust-server").force(),
        &Patch::Apply(config),
    )
    .await?;
    Ok(())
}
