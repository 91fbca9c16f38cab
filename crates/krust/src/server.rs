//! `krust server`: the API server over the embedded store.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Options of `krust server`.
#[derive(clap::Args)]
pub struct Args {
    /// Where the store, the cluster PKI and the kubeconfig live.
    #[arg(long, default_value = "/var/lib/krust")]
    data_dir: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// The range Service cluster IPs come from.
    #[arg(long, default_value = "10.43.0.0/16")]
    service_cidr: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = krust_apiserver::Config {
        data_dir: args.data_dir,
        listen: args.listen,
        service_cidr: args.service_cidr,
    };
    let running = krust_apiserver::start(config).await?;
    // One line on stdout for people and scripts: where kubectl's configuration is.
    println!(
        "krust API server at {}; kubeconfig: {}",
        running.url,
        running.kubeconfig.display()
    );
    tokio::select! {
        r = running.task => r??,
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; stopping"),
    }
    Ok(())
}
