//! `krust status`: the parts of a local cluster, as `minikube status` prints them, with its
//! exit codes: 0 when all run; else bit 1 for the host (the server process), 2 for the
//! kubelet (the nodes Ready), 4 for the API server, so a stopped cluster exits 7; 85 when
//! the profile does not exist (minikube's "profile not found").

use super::{Profile, ProfileArg, health, kubeconfig};

/// Options of `krust status`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    profile: ProfileArg,
}

/// What `krust status` found.
pub struct Status {
    /// The server process runs.
    pub host: bool,
    /// Every node is Ready.
    pub kubelet: bool,
    /// The API server answers `/readyz`.
    pub apiserver: bool,
    /// The user's kubeconfig leads to it.
    pub kubeconfig: bool,
}

impl Status {
    /// minikube's exit code: a bit per part not running.
    pub fn exit_code(&self) -> i32 {
        i32::from(!self.host) | i32::from(!self.kubelet) << 1 | i32::from(!self.apiserver) << 2
    }
}

pub async fn run(args: Args) -> anyhow::Result<i32> {
    let profile = Profile::named(&args.profile.name)?;
    if profile.settings()?.is_none() {
        println!(
            "Profile {:?} not found. Run \"krust profile list\" to view all profiles.",
            profile.name
        );
        return Ok(85);
    }
    let status = check(&profile).await?;
    let word = |running: bool| if running { "Running" } else { "Stopped" };
    let config = match (status.host, status.kubeconfig) {
        (false, _) => "Stopped",
        (true, true) => "Configured",
        (true, false) => "Misconfigured",
    };
    println!("{}", profile.name);
    println!("type: Control Plane");
    println!("host: {}", word(status.host));
    println!("kubelet: {}", word(status.kubelet));
    println!("apiserver: {}", word(status.apiserver));
    println!("kubeconfig: {config}");
    if status.host && !status.kubeconfig {
        println!(
            "\nWARNING: kubectl does not lead to this cluster: `krust start{}` sets its context again.",
            profile.flag()
        );
    }
    Ok(status.exit_code())
}

/// Checks each part of the profile's cluster.
pub async fn check(profile: &Profile) -> anyhow::Result<Status> {
    let settings = profile.settings()?.ok_or_else(|| profile.not_running())?;
    let mut status = Status {
        host: profile.server_pid().is_some(),
        kubelet: false,
        apiserver: false,
        kubeconfig: false,
    };
    if !status.host {
        return Ok(status);
    }
    if let Ok(client) = profile.client().await {
        status.apiserver = health::apiserver_ready(&client).await;
        status.kubelet = status.apiserver && health::nodes_ready(&client, &settings, None).await;
    }
    if let Ok(url) = kubeconfig::server_url(&profile.server_kubeconfig()) {
        status.kubeconfig = kubeconfig::configured(&kubeconfig::path()?, &profile.name, &url);
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_cluster_exits_7_as_minikube_and_a_running_one_0() {
        let all = |b| Status {
            host: b,
            kubelet: b,
            apiserver: b,
            kubeconfig: b,
        };
        assert_eq!(all(false).exit_code(), 7);
        assert_eq!(all(true).exit_code(), 0);
        let no_node = Status {
            kubelet: false,
            ..all(true)
        };
        assert_eq!(no_node.exit_code(), 2);
    }
}
