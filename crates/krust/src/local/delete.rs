//! `krust delete`: everything of a local cluster removed, as `minikube delete`: the server
//! stopped, the node's containers, pod network and service proxy rules removed (`krust
//! stop`), the profile's data dir deleted, and its cluster, user and context taken out of the
//! user's kubeconfig (other entries stay).

use anyhow::bail;

use super::{Profile, ProfileArg, kubeconfig, stop};

/// Options of `krust delete`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    profile: ProfileArg,
    /// Delete every profile.
    #[arg(long)]
    all: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let profiles = if args.all {
        Profile::all()?
    } else {
        vec![Profile::named(&args.profile.name)?]
    };
    for profile in profiles {
        if profile.settings()?.is_none() && !profile.dir.exists() {
            println!(
                "* The {:?} profile does not exist; removing its kubeconfig entries anyway.",
                profile.name
            );
        } else {
            println!("* Deleting the {:?} cluster ...", profile.name);
            stop::stop(&profile).await?;
            remove_dir(&profile)?;
        }
        kubeconfig::remove(&kubeconfig::path()?, &profile.name)?;
        println!("* Removed all traces of the {:?} cluster.", profile.name);
    }
    Ok(())
}

/// Deletes the profile's directory, unless something is still mounted under it (deleting
/// would then reach into the mounted file system).
fn remove_dir(profile: &Profile) -> anyhow::Result<()> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
    let dir = profile.dir.to_string_lossy();
    let under = format!("{dir}/");
    let mounted: Vec<&str> = mountinfo
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|m| *m == dir || m.starts_with(&under))
        .collect();
    if !mounted.is_empty() {
        bail!(
            "{} is still mounted under {}; unmount it and run `krust delete{}` again",
            mounted.join(", "),
            profile.dir.display(),
            profile.flag()
        );
    }
    match std::fs::remove_dir_all(&profile.dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}
