//! The `runc run` reference: an OCI bundle over the same unpacked busybox layer the krust
//! runtime starts containers from (read-only root, as runc's default spec for root with the
//! process, terminal, memory limit and cgroup changed), run in the foreground until it exits.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// A bundle and a runc state directory; dropping it removes the cgroups runc left.
pub struct Runc {
    bundle: PathBuf,
    state: PathBuf,
    cgroup: String,
    runs: u32,
}

impl Runc {
    /// A bundle under `dir` whose root is `rootfs`, running `args` with a 64 MiB limit in
    /// cgroups under `/sys/fs/cgroup/*/<cgroup>`.
    pub fn bundle(dir: &Path, rootfs: &Path, args: &[&str], cgroup: &str) -> Result<Runc> {
        crate::pods::podman::which("runc").context("apt-get install -y runc")?;
        let bundle = dir.join("bundle");
        std::fs::create_dir_all(&bundle)?;
        let spec = Command::new("runc")
            .arg("spec")
            .arg("--bundle")
            .arg(&bundle)
            .status()?;
        if !spec.success() {
            bail!("runc spec: {spec}");
        }
        let path = bundle.join("config.json");
        let mut config: Value = serde_json::from_slice(&std::fs::read(&path)?)?;
        customize(&mut config, rootfs, args, cgroup);
        std::fs::write(&path, serde_json::to_vec_pretty(&config)?)?;
        Ok(Runc {
            bundle,
            state: dir.join("state"),
            cgroup: cgroup.to_string(),
            runs: 0,
        })
    }

    /// `runc run` of the bundle, timed from the command's start to its exit.
    pub fn run_once(&mut self) -> Result<Duration> {
        self.runs += 1;
        let id = format!("{}-{}", self.cgroup, self.runs);
        let mut cmd = Command::new("runc");
        cmd.arg("--root")
            .arg(&self.state)
            .arg("run")
            .arg("--bundle")
            .arg(&self.bundle)
            .arg(&id)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let start = Instant::now();
        let out = cmd.output().context("running runc")?;
        let took = start.elapsed();
        if !out.status.success() {
            bail!(
                "runc run: {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(took)
    }
}

/// The changes to `runc spec`'s default: the process, no terminal, the root, a 64 MiB memory
/// limit and the cgroup.
fn customize(config: &mut Value, rootfs: &Path, args: &[&str], cgroup: &str) {
    config["process"]["args"] = json!(args);
    config["process"]["terminal"] = json!(false);
    config["root"] = json!({ "path": rootfs, "readonly": true });
    config["hostname"] = json!("krt-bench");
    config["linux"]["resources"]["memory"] = json!({ "limit": 64u64 << 20 });
    config["linux"]["cgroupsPath"] = json!(format!("/{cgroup}/runc"));
}

impl Drop for Runc {
    fn drop(&mut self) {
        let _ = Command::new("runc")
            .arg("--root")
            .arg(&self.state)
            .args(["delete", "--force"])
            .arg(format!("{}-{}", self.cgroup, self.runs))
            .stderr(Stdio::null())
            .status();
        remove_cgroups(&self.cgroup);
    }
}

/// Removes `/sys/fs/cgroup/*/<name>` and what it holds (empty cgroups only).
pub fn remove_cgroups(name: &str) {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for hierarchy in hierarchies.flatten() {
        remove_tree(&hierarchy.path().join(name));
    }
}

fn remove_tree(dir: &Path) {
    if !dir.is_dir() {
        return;
    }
    if let Ok(children) = std::fs::read_dir(dir) {
        for child in children.flatten() {
            if child.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&child.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_runs_the_command_on_the_root_read_only_with_a_memory_limit() {
        let mut config = json!({
            "process": {"terminal": true, "args": ["sh"]},
            "root": {"path": "rootfs"},
            "linux": {"resources": {"devices": []}},
        });
        customize(
            &mut config,
            Path::new("/l/abc"),
            &["/bin/true"],
            "krt-bench-1",
        );
        assert_eq!(config["process"]["args"], json!(["/bin/true"]));
        assert_eq!(config["process"]["terminal"], json!(false));
        assert_eq!(config["root"], json!({"path": "/l/abc", "readonly": true}));
        assert_eq!(config["linux"]["resources"]["memory"]["limit"], 67108864);
        assert_eq!(config["linux"]["resources"]["devices"], json!([]));
        assert_eq!(config["linux"]["cgroupsPath"], "/krt-bench-1/runc");
    }
}
