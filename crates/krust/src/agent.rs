//! `krust agent`: this host joins a cluster as a node, as `k3s agent` and `kubeadm join`
//! do: TLS bootstrap with the join token (`join.rs`), then the same real node `krust
//! server` runs for its own host (`krust_kubelet::node::RealNode`), with the cluster and
//! service ranges and the pod network mode the server publishes in
//! `kube-system/krust-config`.

use crate::join;
use crate::node_flags::NodeFlags;
use k8s_openapi::api::core::v1::{ConfigMap, Node};
use krust_kubelet::node::{KubeletTls, NodeOptions, RealNode};
use kube::Api;
use kube::api::PostParams;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;

/// Options of `krust agent`.
#[derive(clap::Args)]
pub struct Args {
    /// The API server to join, `https://HOST:PORT`.
    #[arg(long)]
    server: String,
    /// The join token (`K10<ca hash>::<id>.<secret>`, the server's `<data dir>/token`);
    /// needed only until the node has its credentials.
    #[arg(long, env = "KRUST_TOKEN")]
    token: Option<String>,
    /// Where the node keeps its credentials, images, containers and pod network state.
    #[arg(long, default_value = "/var/lib/krust")]
    data_dir: PathBuf,
    #[command(flatten)]
    node: NodeFlags,
    /// How pods reach other nodes' pods (`routes` or `vxlan`; default: what the server
    /// publishes).
    #[arg(long)]
    pod_network: Option<krust_net::peers::Mode>,
}

/// The ConfigMap where `krust server` publishes what nodes need to know of the cluster (as
/// kubeadm's `kube-system/kubeadm-config`).
pub const CLUSTER_CONFIG: &str = "krust-config";

/// The address this host reaches `server` from (the node's InternalIP).
fn address_towards(server: &str) -> anyhow::Result<IpAddr> {
    let url: http::Uri = server.parse()?;
    let host = url.host().unwrap_or("127.0.0.1").trim_matches(['[', ']']);
    let port = url.port_u16().unwrap_or(443);
    let target: SocketAddr = (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| anyhow::anyhow!("{host} has no address"))?;
    let socket = UdpSocket::bind(if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    })?;
    socket.connect(target)?;
    Ok(socket.local_addr()?.ip())
}

/// The Node as the kubelet registers it before it serves: its name and addresses, so that
/// the serving certificate's approver can check the request against them.
async fn announce(client: &kube::Client, name: &str, address: IpAddr) -> anyhow::Result<()> {
    let api: Api<Node> = Api::all(client.clone());
    if api.get_opt(name).await?.is_some() {
        return Ok(());
    }
    let node: Node = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "status": {"addresses": [
            {"type": "InternalIP", "address": address.to_string()},
            {"type": "Hostname", "address": krust_kubelet::node::host::hostname()},
        ]},
    }))?;
    match api.create(&PostParams::default(), &node).await {
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let name = args.node.name();
    std::fs::create_dir_all(&args.data_dir)?;
    let (client, ca) =
        join::node_client(&args.server, args.token.as_deref(), &args.data_dir, &name).await?;
    let address = address_towards(&args.server)?;
    announce(&client, &name, address).await?;
    let (cert, key) = join::serving_certificate(&client, &args.data_dir, &name, address).await?;
    let config = Api::<ConfigMap>::namespaced(client.clone(), "kube-system")
        .get_opt(CLUSTER_CONFIG)
        .await?
        .and_then(|c| c.data)
        .unwrap_or_default();
    let tls = KubeletTls {
        ca_cert: ca,
        cert,
        key,
    };
    let mut opts = NodeOptions::for_host(args.data_dir.clone(), crate::monitor_argv()?, tls);
    opts.name = name;
    opts.address = address;
    args.node.apply(&mut opts);
    let parse = |key: &str| -> anyhow::Result<Option<krust_api::cidr::Cidr>> {
        config
            .get(key)
            .map(|v| {
                v.parse()
                    .map_err(|e| anyhow::anyhow!("{CLUSTER_CONFIG} {key} {v}: {e}"))
            })
            .transpose()
    };
    if let Some(c) = parse("clusterCIDR")? {
        opts.cluster_cidr = c;
    }
    if let Some(c) = parse("serviceCIDR")? {
        opts.service_cidr = c;
    }
    let published = config
        .get("podNetwork")
        .map(|m| {
            m.parse()
                .map_err(|e| anyhow::anyhow!("{CLUSTER_CONFIG} podNetwork: {e}"))
        })
        .transpose()?;
    opts.pod_network = args.pod_network.or(published).unwrap_or_default();
    let node = RealNode::start(client, opts).await?;
    println!("krust agent: node {} joined {}", node.name(), args.server);
    crate::stop_requested().await?;
    node.shutdown().await;
    Ok(())
}
