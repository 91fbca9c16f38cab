//! `krust start`: a local cluster in the background, as `minikube start`. The first start of
//! a profile fixes its settings (ports, bridge, ranges, nodes); every start runs `krust
//! server` detached on the profile's data dir, waits until the API server, the nodes and the
//! cluster DNS serve, and points kubectl at it.

use std::fs::OpenOptions;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::bail;

use super::{Profile, ProfileArg, SLOTS, Settings, health, kubeconfig, ports};

/// How long a start may take before `krust start` gives up waiting (the server goes on).
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Options of `krust start`; all but `-p` apply when a profile is first started.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    profile: ProfileArg,
    /// Simulated nodes (without containers) beside this host; the only nodes when not root.
    #[arg(long)]
    sim_nodes: Option<usize>,
    /// The API server's port (default: 6443 for the first profile, then 6444, …).
    #[arg(long)]
    apiserver_port: Option<u16>,
    /// The node's kubelet API port (default: 10250 for the first profile, then 10251, …).
    #[arg(long)]
    kubelet_port: Option<u16>,
    /// The node's pod bridge (default: krust0 for the first profile, then krust1, …).
    #[arg(long)]
    bridge: Option<String>,
    /// The node's name (default: the profile's).
    #[arg(long)]
    node_name: Option<String>,
    /// The pod network (default: 10.42.0.0/16 for the first profile, then 10.44.0.0/16, …).
    #[arg(long)]
    cluster_cidr: Option<String>,
    /// The Services' range (default: 10.43.0.0/16 for the first profile, then 10.45.0.0/16, …).
    #[arg(long)]
    service_cidr: Option<String>,
    /// The node ports Services get (default: 30000-32767 for the first profile, then
    /// 29000-29999, 28000-28999, …: profiles share this host's addresses, so their node ports
    /// must not meet).
    #[arg(long)]
    service_node_port_range: Option<String>,
    /// Registries pulled from over plain HTTP (e.g. `localhost:5000`).
    #[arg(long = "insecure-registry")]
    insecure_registries: Vec<String>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let profile = Profile::named(&args.profile.name)?;
    let root = rustix::process::geteuid().is_root();
    let settings = match profile.settings()? {
        Some(settings) => {
            if with_flags(&args, &settings)? != settings {
                println!(
                    "! The {:?} cluster keeps the settings it was made with; `krust delete{}` first to change them.",
                    profile.name,
                    profile.flag()
                );
            }
            settings
        }
        None => {
            let mut defaults = Settings::for_slot(free_slot()?, &profile.name);
            defaults.real_node = root;
            with_flags(&args, &defaults)?
        }
    };
    if let Some(pid) = profile.server_pid() {
        println!(
            "* The {:?} cluster is already running (pid {pid}).",
            profile.name
        );
        return configure_kubectl(&profile);
    }
    if !root && (settings.real_node || settings.sim_nodes == 0) {
        bail!(
            "krust start runs this host as the cluster's node, which needs root: run `sudo krust start{}`, \
             or start simulated nodes (no containers) with `krust start{} --sim-nodes 3`",
            profile.flag(),
            profile.flag()
        );
    }
    ports::ensure_free(
        settings.apiserver_port,
        "the API server",
        "--apiserver-port",
    )?;
    if settings.real_node {
        ports::ensure_free(settings.kubelet_port, "the kubelet", "--kubelet-port")?;
    }
    profile.save(&settings)?;
    println!(
        "* Starting the {:?} cluster: {}",
        profile.name,
        describe(&settings)
    );
    let started = Instant::now();
    let mut server = spawn(&profile, &settings)?;
    println!("* Waiting for the API server, the nodes and the cluster DNS ...");
    wait_ready(&profile, &settings, &mut server).await?;
    println!("* Ready in {:.1}s", started.elapsed().as_secs_f64());
    configure_kubectl(&profile)
}

/// The settings the flags give over `base` (a new profile's defaults, or the ones it has).
fn with_flags(args: &Args, base: &Settings) -> anyhow::Result<Settings> {
    let mut s = base.clone();
    let set = |field: &mut String, value: &Option<String>| {
        if let Some(v) = value {
            field.clone_from(v);
        }
    };
    set(&mut s.bridge, &args.bridge);
    set(&mut s.node_name, &args.node_name);
    set(&mut s.cluster_cidr, &args.cluster_cidr);
    set(&mut s.service_cidr, &args.service_cidr);
    set(&mut s.node_port_range, &args.service_node_port_range);
    s.apiserver_port = args.apiserver_port.unwrap_or(s.apiserver_port);
    s.kubelet_port = args.kubelet_port.unwrap_or(s.kubelet_port);
    s.sim_nodes = args.sim_nodes.unwrap_or(s.sim_nodes);
    if !args.insecure_registries.is_empty() {
        s.insecure_registries.clone_from(&args.insecure_registries);
    }
    for (flag, cidr) in [
        ("--cluster-cidr", &s.cluster_cidr),
        ("--service-cidr", &s.service_cidr),
    ] {
        cidr.parse::<krust_api::cidr::Cidr>()
            .map_err(|e| anyhow::anyhow!("{flag} {cidr}: {e}"))?;
    }
    krust_apiserver::parse_node_ports(&s.node_port_range)
        .map_err(|e| anyhow::anyhow!("--service-node-port-range: {e}"))?;
    Ok(s)
}

/// The first slot no other profile holds.
fn free_slot() -> anyhow::Result<u16> {
    let mut taken = Vec::new();
    for other in Profile::all()? {
        if let Some(s) = other.settings()? {
            taken.push(s.slot);
        }
    }
    (0..SLOTS).find(|n| !taken.contains(n)).ok_or_else(|| {
        anyhow::anyhow!("{SLOTS} local clusters exist already: `krust delete -p NAME` one")
    })
}

/// One line on what the cluster is made of.
fn describe(s: &Settings) -> String {
    let mut parts = vec![format!("API server on port {}", s.apiserver_port)];
    if s.real_node {
        parts.push(format!(
            "this host as node {:?} (bridge {}, pods {}, Services {}, node ports {})",
            s.node_name, s.bridge, s.cluster_cidr, s.service_cidr, s.node_port_range
        ));
    }
    if s.sim_nodes > 0 {
        parts.push(format!("{} simulated nodes", s.sim_nodes));
    }
    parts.join(", ")
}

/// Starts `krust server` on the profile in a session of its own (no terminal's signals
/// reach it), its output appended to the profile's log, and records its pid.
fn spawn(profile: &Profile, s: &Settings) -> anyhow::Result<Child> {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(profile.log_file())?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["server", "--detached", "--data-dir"])
        .arg(&profile.dir)
        .arg("--listen")
        .arg(format!("0.0.0.0:{}", s.apiserver_port))
        .args(["--service-cidr", &s.service_cidr])
        .args(["--service-node-port-range", &s.node_port_range])
        .args(["--cluster-cidr", &s.cluster_cidr])
        .args(["--sim-nodes", &s.sim_nodes.to_string()]);
    if s.real_node {
        cmd.args(["--node-name", &s.node_name, "--bridge", &s.bridge])
            .args(["--kubelet-port", &s.kubelet_port.to_string()]);
    } else {
        cmd.arg("--disable-agent");
    }
    for registry in &s.insecure_registries {
        cmd.args(["--insecure-registry", registry]);
    }
    let child = cmd
        .env("NO_COLOR", "1") // a file, not a terminal
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?;
    std::fs::write(profile.dir.join("krust.pid"), child.id().to_string())?;
    Ok(child)
}

/// Waits until the API server, every node and (with a real node) the cluster DNS serve;
/// fails with the end of the log when the server exits first.
async fn wait_ready(profile: &Profile, s: &Settings, server: &mut Child) -> anyhow::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    // Heartbeats are written in whole seconds.
    let since = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(1);
    let mut client = None;
    let mut waiting_for = "the API server";
    loop {
        if let Some(status) = server.try_wait()? {
            let log = std::fs::read_to_string(profile.log_file()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "krust server exited ({status}); its log ends with:\n{}",
                tail.join("\n")
            );
        }
        if Instant::now() > deadline {
            bail!(
                "{waiting_for} is not ready after {}s; the server goes on: see `krust logs{}`",
                READY_TIMEOUT.as_secs(),
                profile.flag()
            );
        }
        if client.is_none() && profile.server_kubeconfig().exists() {
            client = profile.client().await.ok();
        }
        if let Some(client) = &client {
            if !health::apiserver_ready(client).await {
                waiting_for = "the API server";
            } else if !health::nodes_ready(client, s, Some(since)).await {
                waiting_for = "the nodes";
            } else if s.real_node && !health::dns_answers(client, &s.bridge).await {
                waiting_for = "the cluster DNS";
            } else {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Merges the profile into the user's kubeconfig, makes it current, and says so (with how
/// to get kubectl when it is missing).
fn configure_kubectl(profile: &Profile) -> anyhow::Result<()> {
    let path = kubeconfig::path()?;
    kubeconfig::merge(&path, &profile.server_kubeconfig(), &profile.name)?;
    println!(
        "* Done! kubectl is now configured to use {:?} cluster and \"default\" namespace by default",
        profile.name
    );
    if let Some(user) = kubeconfig::sudo_user() {
        println!(
            "* kubectl's configuration is {user}'s ({}): run kubectl as {user}, without sudo",
            path.display()
        );
    }
    if let Some(hint) = kubectl_missing(std::env::var_os("PATH")) {
        println!("{hint}");
    }
    Ok(())
}

/// How to get kubectl when no directory of `path` (a `PATH` value) has it.
fn kubectl_missing(path: Option<std::ffi::OsString>) -> Option<&'static str> {
    let on_path =
        path.is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("kubectl").is_file()));
    (!on_path).then_some(
        "! kubectl is not installed: get it from https://kubernetes.io/docs/tasks/tools/ \
         (e.g. curl -LO https://dl.k8s.io/release/v1.33.0/bin/linux/amd64/kubectl && \
         install kubectl /usr/local/bin/)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_without_kubectl_gets_how_to_install_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = |dirs: &[&std::path::Path]| Some(std::env::join_paths(dirs).unwrap());
        let hint = kubectl_missing(path(&[dir.path()])).expect("a hint");
        assert!(hint.contains("kubectl is not installed") && hint.contains("dl.k8s.io"));
        assert!(kubectl_missing(None).is_some());
        std::fs::write(dir.path().join("kubectl"), "").unwrap();
        assert_eq!(
            kubectl_missing(path(&[std::path::Path::new("/nowhere"), dir.path()])),
            None
        );
    }
}
