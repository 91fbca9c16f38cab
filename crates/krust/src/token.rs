//! `krust token create`: a new bootstrap token for joining nodes, printed as a join token
//! (`K10<ca hash>::<id>.<secret>`), as `kubeadm token create` does (a day's validity
//! unless `--ttl` says otherwise; `--ttl 0` never expires).

use crate::server::parse_duration;
use k8s_openapi::api::core::v1::Secret;
use krust_apiserver::bootstrap_token::{BootstrapToken, join_token};
use kube::Api;
use kube::api::PostParams;
use std::path::PathBuf;
use std::time::Duration;

/// Options of `krust token`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Creates a bootstrap token and prints it as a join token.
    Create {
        /// The server's data dir (its admin kubeconfig and CA).
        #[arg(long, default_value = "/var/lib/krust")]
        data_dir: PathBuf,
        /// How long the token is valid (`0`: forever).
        #[arg(long, default_value = "24h", value_parser = parse_duration)]
        ttl: Duration,
        /// What the token is for.
        #[arg(long, default_value = "made by krust token create")]
        description: String,
    },
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let Command::Create {
        data_dir,
        ttl,
        description,
    } = args.command;
    let client = krust_component::client::from_kubeconfig(&data_dir.join("kubeconfig")).await?;
    let ca = std::fs::read_to_string(data_dir.join("pki/ca.crt"))?;
    let token = BootstrapToken::generate();
    let expiration = (!ttl.is_zero())
        .then(|| jiff::SignedDuration::try_from(ttl))
        .transpose()?
        .map(|d| (jiff::Timestamp::now() + d).to_string());
    let secret: Secret = serde_json::from_value(token.secret(&description, expiration.as_deref()))?;
    Api::<Secret>::namespaced(client, "kube-system")
        .create(&PostParams::default(), &secret)
        .await?;
    println!("{}", join_token(&ca, &token));
    Ok(())
}
