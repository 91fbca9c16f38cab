//! The local cluster, as minikube gives it: `krust start`, `status`, `ip`, `stop`, `delete`,
//! `logs`, `service` and `profile list`, one file per verb. A cluster is a **profile**: a
//! `krust server` run in the background on the data dir `~/.krust/profiles/<name>` (minikube's
//! `~/.minikube/profiles/<name>`), which also holds the profile's settings
//! (`profile.json`), the server's log (`krust.log`) and its process id (`krust.pid`).

mod delete;
mod health;
mod ip;
mod kubeconfig;
mod logs;
mod ports;
mod profile;
mod service;
mod start;
mod status;
mod stop;

use std::path::PathBuf;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// The local-cluster commands (top-level subcommands of `krust`).
#[derive(clap::Subcommand)]
pub enum Command {
    /// Starts a local cluster in the background and points kubectl at it (as `minikube start`).
    Start(start::Args),
    /// Shows whether the local cluster's parts run (exit code 0 when all do, 7 when stopped).
    Status(status::Args),
    /// Prints the local cluster's node address.
    Ip(ip::Args),
    /// Stops the local cluster and its containers; its state stays for the next start.
    Stop(stop::Args),
    /// Deletes the local cluster: state, containers, network rules, kubeconfig entries.
    Delete(delete::Args),
    /// Prints the local cluster's own log.
    Logs(logs::Args),
    /// Prints the URLs a NodePort or LoadBalancer Service is reached at from this host.
    Service(service::Args),
    /// Lists the local clusters (profiles).
    Profile(profile::Args),
}

/// Runs a local-cluster command; its exit status (1 after `Error: …` on stderr, with the
/// causes after a colon each).
pub async fn run(command: Command) -> i32 {
    let result = match command {
        Command::Start(args) => start::run(args).await.map(|()| 0),
        Command::Status(args) => status::run(args).await,
        Command::Ip(args) => ip::run(args).await.map(|()| 0),
        Command::Stop(args) => stop::run(args).await.map(|()| 0),
        Command::Delete(args) => delete::run(args).await.map(|()| 0),
        Command::Logs(args) => logs::run(args).await.map(|()| 0),
        Command::Service(args) => service::run(args).await.map(|()| 0),
        Command::Profile(args) => profile::run(args).map(|()| 0),
    };
    let _ = std::io::Write::flush(&mut std::io::stdout());
    result.unwrap_or_else(|e| {
        eprintln!("Error: {e:#}");
        1
    })
}

/// The profile a command acts on (`-p`, as minikube's).
#[derive(clap::Args)]
pub struct ProfileArg {
    /// The local cluster's name (its kubeconfig context too).
    #[arg(short = 'p', long = "profile", id = "profile", default_value = "krust")]
    pub name: String,
}

/// How many profiles may run side by side (each takes address ranges of its own:
/// [`Settings::for_slot`]).
const SLOTS: u16 = 10;

/// A profile's settings, fixed when it is first started (`profile.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// Which of the [`SLOTS`] default ranges and ports the profile took.
    pub slot: u16,
    /// The API server's port (on every address; kubectl uses 127.0.0.1).
    pub apiserver_port: u16,
    /// The real node's kubelet API port.
    pub kubelet_port: u16,
    /// The real node's pod bridge.
    pub bridge: String,
    /// The real node's name.
    pub node_name: String,
    /// The pod network.
    #[serde(rename = "clusterCIDR")]
    pub cluster_cidr: String,
    /// The Service cluster IP range.
    #[serde(rename = "serviceCIDR")]
    pub service_cidr: String,
    /// The node ports Services get (profiles share the host's addresses: each its own).
    #[serde(default = "default_node_ports")]
    pub node_port_range: String,
    /// Whether this host is the cluster's node (root only), as `krust server` without
    /// `--disable-agent`.
    pub real_node: bool,
    /// Simulated nodes beside it.
    pub sim_nodes: usize,
    /// Registries pulled from over plain HTTP.
    #[serde(default)]
    pub insecure_registries: Vec<String>,
}

impl Settings {
    /// The defaults of slot `n`: the first profile gets `krust server`'s (port 6443, kubelet
    /// 10250, bridge `krust0`, pods 10.42.0.0/16, Services 10.43.0.0/16, node ports
    /// 30000-32767), the next ones the following ports, bridges and pairs of /16s (10.44 and
    /// 10.45, …) and a thousand node ports each below 30000 (29000-29999, …).
    pub fn for_slot(n: u16, name: &str) -> Settings {
        Settings {
            slot: n,
            apiserver_port: 6443 + n,
            kubelet_port: 10250 + n,
            bridge: format!("krust{n}"),
            node_name: name.to_string(),
            cluster_cidr: format!("10.{}.0.0/16", 42 + 2 * n),
            service_cidr: format!("10.{}.0.0/16", 43 + 2 * n),
            node_port_range: match n {
                0 => default_node_ports(),
                n => format!(
                    "{}-{}",
                    30000 - 1000 * u32::from(n),
                    30999 - 1000 * u32::from(n)
                ),
            },
            real_node: true,
            sim_nodes: 0,
            insecure_registries: Vec::new(),
        }
    }

    /// How many nodes the cluster has.
    pub fn nodes(&self) -> usize {
        usize::from(self.real_node) + self.sim_nodes
    }
}

/// One local cluster: its name and directory.
pub struct Profile {
    /// The profile's (and its kubeconfig context's) name.
    pub name: String,
    /// Its data dir.
    pub dir: PathBuf,
}

impl Profile {
    /// The profile named `name` (which may not exist yet).
    pub fn named(name: &str) -> anyhow::Result<Profile> {
        let valid = !name.is_empty()
            && name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !name.starts_with('-')
            && !name.ends_with('-');
        anyhow::ensure!(
            valid,
            "invalid profile name {name:?}: lowercase letters, digits and '-' (a DNS label)"
        );
        Ok(Profile {
            name: name.to_string(),
            dir: root()?.join(name),
        })
    }

    /// Every profile there is, by name.
    pub fn all() -> anyhow::Result<Vec<Profile>> {
        let mut names: Vec<String> = std::fs::read_dir(root()?)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().join(SETTINGS).exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        names.iter().map(|n| Profile::named(n)).collect()
    }

    /// Its settings, `None` when the profile was never started.
    pub fn settings(&self) -> anyhow::Result<Option<Settings>> {
        let file = self.dir.join(SETTINGS);
        match std::fs::read(&file) {
            Ok(text) => Ok(Some(
                serde_json::from_slice(&text).with_context(|| format!("{}", file.display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("{}", file.display())),
        }
    }

    /// Writes its settings (making its directory, readable by its owner only).
    pub fn save(&self, settings: &Settings) -> anyhow::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        let file = self.dir.join(SETTINGS);
        std::fs::write(&file, serde_json::to_vec_pretty(settings)?)
            .with_context(|| format!("{}", file.display()))
    }

    /// The server's log file.
    pub fn log_file(&self) -> PathBuf {
        self.dir.join("krust.log")
    }

    /// The admin kubeconfig the server writes.
    pub fn server_kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.join("krust.pid")
    }

    /// The process id of its running server, if one runs: the one in `krust.pid`, when that
    /// process is a `krust server` on this profile's data dir.
    pub fn server_pid(&self) -> Option<i32> {
        let pid: i32 = std::fs::read_to_string(self.pid_file())
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let dir = self.dir.as_os_str().as_encoded_bytes();
        let ours = args.contains(&b"server".as_slice()) && args.contains(&dir);
        ours.then_some(pid)
    }

    /// A client of its API server, as its admin.
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        krust_component::client::from_kubeconfig(&self.server_kubeconfig()).await
    }

    /// The error of a command that needs the cluster running.
    pub fn not_running(&self) -> anyhow::Error {
        anyhow::anyhow!(
            "the {:?} cluster is not running: start it with `krust start{}`",
            self.name,
            self.flag()
        )
    }

    /// ` -p NAME` for messages, empty for the default profile.
    pub fn flag(&self) -> String {
        if self.name == "krust" {
            String::new()
        } else {
            format!(" -p {}", self.name)
        }
    }
}

/// Kubernetes' node port range, the first profile's (and that of profiles made before they
/// had ranges of their own).
fn default_node_ports() -> String {
    let ports = krust_apiserver::NODE_PORTS;
    format!("{}-{}", ports.start(), ports.end())
}

/// The settings file in a profile's directory.
const SETTINGS: &str = "profile.json";

/// `~/.krust/profiles`.
fn root() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME").context("HOME is not set")?;
    Ok(PathBuf::from(home).join(".krust").join("profiles"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_slot_has_the_servers_defaults_and_the_next_their_own_ranges() {
        let first = Settings::for_slot(0, "krust");
        assert_eq!(
            (
                first.apiserver_port,
                first.kubelet_port,
                first.bridge.as_str()
            ),
            (6443, 10250, "krust0")
        );
        assert_eq!(first.cluster_cidr, "10.42.0.0/16");
        let second = Settings::for_slot(1, "dev");
        assert_eq!(
            (second.apiserver_port, second.bridge.as_str()),
            (6444, "krust1")
        );
        assert_eq!(
            (second.cluster_cidr.as_str(), second.service_cidr.as_str()),
            ("10.44.0.0/16", "10.45.0.0/16")
        );
        assert_eq!(second.node_name, "dev");
        assert_eq!(first.node_port_range, "30000-32767");
        assert_eq!(second.node_port_range, "29000-29999");
        assert_eq!(Settings::for_slot(9, "x").node_port_range, "21000-21999");
    }

    #[test]
    fn a_profile_name_is_a_dns_label() {
        assert!(Profile::named("dev-2").is_ok());
        assert!(Profile::named("Dev").is_err());
        assert!(Profile::named("../x").is_err());
        assert!(Profile::named("").is_err());
    }
}
