//! The flags `krust server` and `krust agent` share: how this host runs as a node (the
//! kubelet's own flags, where it has them).

use std::path::PathBuf;

use krust_kubelet::node::NodeOptions;

/// This host as a node.
#[derive(clap::Args)]
pub struct NodeFlags {
    /// The node's name (default: the host name).
    #[arg(long)]
    node_name: Option<String>,
    /// The node's kubelet API port (0 picks a free port).
    #[arg(long, default_value_t = 10250)]
    kubelet_port: u16,
    /// The node's pod bridge.
    #[arg(long, default_value = "krust0")]
    bridge: String,
    /// Registries pulled from over plain HTTP (e.g. `localhost:5000`).
    #[arg(long = "insecure-registry")]
    insecure_registries: Vec<String>,
    /// The resolver configuration the node's pods with `dnsPolicy: Default` get and its
    /// cluster DNS forwards other names to (the kubelet's `--resolv-conf`).
    #[arg(long, default_value = "/etc/resolv.conf")]
    resolv_conf: PathBuf,
}

impl NodeFlags {
    /// The node's name: `--node-name`, else the host name.
    pub fn name(&self) -> String {
        self.node_name
            .clone()
            .unwrap_or_else(krust_kubelet::node::host::hostname)
    }

    /// Sets in `opts` what these flags say (the name apart).
    pub fn apply(&self, opts: &mut NodeOptions) {
        opts.kubelet_port = self.kubelet_port;
        opts.bridge = self.bridge.clone();
        opts.insecure_registries = self.insecure_registries.clone();
        opts.resolv_conf = self.resolv_conf.clone();
    }
}
