//! `krust ip`: the address of the cluster's node, as `minikube ip` (the InternalIP of this
//! host's Node; with simulated nodes only, the first node's).

use k8s_openapi::api::core::v1::Node;
use kube::Api;

use super::{Profile, ProfileArg};

/// Options of `krust ip`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    profile: ProfileArg,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let profile = Profile::named(&args.profile.name)?;
    println!("{}", node_ip(&profile).await?);
    Ok(())
}

/// The InternalIP of the profile's node; an error when the cluster is not running.
pub async fn node_ip(profile: &Profile) -> anyhow::Result<String> {
    let settings = profile.settings()?;
    let (Some(settings), Some(_)) = (settings, profile.server_pid()) else {
        return Err(profile.not_running());
    };
    let nodes: Api<Node> = Api::all(profile.client().await?);
    let node = if settings.real_node {
        nodes.get(&settings.node_name).await?
    } else {
        let list = nodes.list(&Default::default()).await?;
        list.items
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("the cluster has no node yet"))?
    };
    let addresses = node.status.and_then(|s| s.addresses).unwrap_or_default();
    addresses
        .into_iter()
        .find(|a| a.type_ == "InternalIP")
        .map(|a| a.address)
        .ok_or_else(|| anyhow::anyhow!("the node has no InternalIP yet"))
}
