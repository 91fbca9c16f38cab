//! `krust stop`: the cluster stopped with its state kept, as `minikube stop`. The server is
//! asked to stop (SIGTERM: its node withdraws its DNS endpoint and removes its service
//! proxy's rules), then every container of the node and its pod network are removed, as
//! `krust killall` does; the store, images and settings stay, so `krust start` brings the
//! same objects back and the node runs their pods again.

use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

use super::{Profile, ProfileArg};

/// How long the server may take to stop before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Options of `krust stop`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    profile: ProfileArg,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let profile = Profile::named(&args.profile.name)?;
    if profile.settings()?.is_none() {
        anyhow::bail!(
            "profile {:?} not found: `krust profile list` shows the local clusters",
            profile.name
        );
    }
    println!("* Stopping the {:?} cluster ...", profile.name);
    stop(&profile).await?;
    println!("* The {:?} cluster is stopped.", profile.name);
    Ok(())
}

/// Stops the profile's server (if it runs) and removes its node's containers and pod
/// network.
pub async fn stop(profile: &Profile) -> anyhow::Result<()> {
    if let Some(pid) = profile.server_pid().and_then(Pid::from_raw) {
        if kill_process(pid, Signal::TERM) == Err(rustix::io::Errno::PERM) {
            anyhow::bail!(
                "the server (pid {}) runs as another user: `sudo krust stop{}`",
                pid.as_raw_nonzero(),
                profile.flag()
            );
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while profile.server_pid().is_some() {
            if Instant::now() > deadline {
                println!("! The server did not stop within {STOP_TIMEOUT:?}: killed.");
                let _ = kill_process(pid, Signal::KILL);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    krust_kubelet::node::reset(&profile.dir).await?;
    let _ = std::fs::remove_file(profile.dir.join("krust.pid"));
    Ok(())
}
