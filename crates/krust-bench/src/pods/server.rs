//! A `krust server` process whose node is this host, as `krust-e2e`'s
//! `Cluster::start_real_node` starts one: a data directory, node name, bridge and pod range
//! of its own (`krt-bench-…`), a free port. Dropping it stops the process and runs `krust
//! killall` on its data directory, which removes its containers and pod network.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::pods::stats::{self, Memory};

/// A running `krust server`.
pub struct Server {
    child: Child,
    krust: PathBuf,
    data_dir: PathBuf,
    kubeconfig: PathBuf,
    pub node: String,
}

impl Server {
    /// Starts `krust server` on `data_dir` and waits for its ready line.
    pub fn start(krust: &Path, data_dir: &Path) -> Result<Server> {
        Server::start_with(krust, data_dir, &[])
    }

    /// [`Server::start`] with more arguments (`--service-cidr …`).
    pub fn start_with(krust: &Path, data_dir: &Path, extra: &[&str]) -> Result<Server> {
        let n = std::process::id() % 100;
        let node = format!("krt-bench-{n}");
        std::fs::create_dir_all(data_dir)?;
        let stderr = std::fs::File::create(data_dir.join("server.log"))?;
        let mut child = Command::new(krust)
            .arg("server")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0", "--kubelet-port", "0"])
            .args(["--node-name", &node])
            .args(["--bridge", &format!("krt-bench{n}")])
            .args(["--cluster-cidr", &format!("10.42.{}.0/24", 20 + n)])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("running {}", krust.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut server = Server {
            child,
            krust: krust.to_path_buf(),
            data_dir: data_dir.to_path_buf(),
            kubeconfig: PathBuf::new(),
            node,
        };
        let mut lines = BufReader::new(stdout).lines();
        let ready = loop {
            match lines.next() {
                Some(Ok(line)) if line.starts_with("krust API server at ") => break line,
                Some(Ok(_)) => continue,
                _ => bail!(
                    "krust server exited before its ready line: {}",
                    server.log_tail()
                ),
            }
        };
        server.kubeconfig = kubeconfig_of(&ready).context("the ready line")?;
        // Keep reading stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(server)
    }

    /// A client of the server as its kubeconfig's user (the cluster admin).
    pub async fn client(&self) -> Result<kube::Client> {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig)?;
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
        Ok(kube::Client::try_from(config)?)
    }

    /// `krust image load ARCHIVE` into the node's image store.
    pub fn load_image(&self, archive: &Path) -> Result<()> {
        load_image(&self.krust, &self.data_dir, archive)
    }

    /// The server process's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The memory of the server process and, separately, the sum over its container
    /// monitors (`krust monitor run DATA_DIR/runtime/containers/…`) and their count.
    pub fn memory(&self) -> Result<(Memory, Memory, usize)> {
        let server = stats::memory_of(self.pid()).context("the server has exited")?;
        let monitors = stats::monitors_of(&self.data_dir);
        let sum = monitors
            .iter()
            .filter_map(|pid| stats::memory_of(*pid))
            .fold(Memory::default(), |a, b| a + b);
        Ok((server, sum, monitors.len()))
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// `krust image load ARCHIVE` into the image store of the node at `data_dir` (made if new).
pub fn load_image(krust: &Path, data_dir: &Path, archive: &Path) -> Result<()> {
    let out = Command::new(krust)
        .args(["image", "load"])
        .arg(archive)
        .arg("--data-dir")
        .arg(data_dir)
        .output()?;
    if !out.status.success() {
        bail!(
            "krust image load: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The kubeconfig path of the ready line `krust API server at URL; kubeconfig: PATH`.
pub fn kubeconfig_of(line: &str) -> Option<PathBuf> {
    let (_, path) = line.split_once("; kubeconfig: ")?;
    Some(PathBuf::from(path.trim()))
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The containers outlive the server by design: remove them and the pod network.
        let _ = Command::new(&self.krust)
            .arg("killall")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kubeconfig_is_read_from_the_ready_line() {
        let line = "krust API server at https://127.0.0.1:40123; kubeconfig: /tmp/d/kubeconfig";
        assert_eq!(
            kubeconfig_of(line),
            Some(PathBuf::from("/tmp/d/kubeconfig"))
        );
        assert_eq!(kubeconfig_of("krust API server at https://x"), None);
    }
}
