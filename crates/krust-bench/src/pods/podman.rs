//! The `podman run` reference: podman with storage of its own under the benchmark's
//! directory (`--root`, `--runroot`), so the host's podman images and containers are not
//! touched, and the flags this host needs: `--cgroup-manager=cgroupfs` (no systemd),
//! `--events-backend=file` (no journald), `--network=none` (no CNI network; nothing leaves
//! the host), `--runtime runc` (Debian's podman runs crun, which refuses hybrid cgroups
//! unless cgroup2's controllers are masked, as krust's monitor does) and `--ulimit
//! nofile=1024:1024 --ulimit nproc=1024:1024` (podman's default limits are above this
//! host's hard limits, which root cannot raise without CAP_SYS_RESOURCE).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A podman whose storage lives in one directory; dropping it removes its containers and
/// storage.
pub struct Podman {
    dir: PathBuf,
    /// Whether podman's `libpod_parent` cgroups were absent before (then removed after).
    made_libpod_parent: bool,
}

/// The cgroup podman's cgroupfs manager puts containers under.
const LIBPOD_PARENT: &str = "libpod_parent";

/// The flags of every container this benchmark runs.
const RUN_FLAGS: [&str; 6] = [
    "--network=none",
    "--memory=64m",
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
];

impl Podman {
    /// A podman storing under `dir`, with the image of the docker archive `archive` loaded.
    pub fn with_archive(dir: &Path, archive: &Path) -> Result<Podman> {
        which("podman").context("podman is not installed: apt-get install -y podman")?;
        std::fs::create_dir_all(dir)?;
        let podman = Podman {
            dir: dir.to_path_buf(),
            made_libpod_parent: !Path::new("/sys/fs/cgroup/memory")
                .join(LIBPOD_PARENT)
                .exists(),
        };
        podman.ok(podman
            .command()
            .arg("load")
            .arg("-q")
            .arg("-i")
            .arg(archive))?;
        Ok(podman)
    }

    /// `podman` with the global flags of this benchmark.
    fn command(&self) -> Command {
        let mut cmd = Command::new("podman");
        cmd.arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("run"))
            .arg("--tmpdir")
            .arg(self.dir.join("tmp"))
            .args([
                "--runtime=runc",
                "--cgroup-manager=cgroupfs",
                "--events-backend=file",
                "--storage-driver=overlay",
            ])
            .stdin(Stdio::null());
        cmd
    }

    fn ok(&self, cmd: &mut Command) -> Result<String> {
        let out = cmd.output().context("running podman")?;
        if !out.status.success() {
            bail!(
                "{cmd:?}: {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The OCI runtime podman runs containers with (`crun`, `runc`).
    pub fn oci_runtime(&self) -> String {
        self.ok(self
            .command()
            .args(["info", "--format", "{{.Host.OCIRuntime.Name}}"]))
            .unwrap_or_else(|_| "?".into())
    }

    /// `podman run --rm` of `args` in `image` with a 64 MiB memory limit, timed from the
    /// command's start to its exit.
    pub fn run_once(&self, image: &str, args: &[&str]) -> Result<Duration> {
        let mut cmd = self.command();
        cmd.args(["run", "--rm"])
            .args(RUN_FLAGS)
            .arg(image)
            .args(args);
        let start = Instant::now();
        self.ok(&mut cmd)?;
        Ok(start.elapsed())
    }

    /// `podman run -d` of a long-running container, timed until podman returns (its process
    /// runs then), then removed (not timed).
    pub fn run_detached(&self, image: &str, name: &str) -> Result<Duration> {
        let mut cmd = self.command();
        cmd.args(["run", "-d", "--name", name])
            .args(RUN_FLAGS)
            .arg(image)
            .args(["sleep", "3600"]);
        let start = Instant::now();
        self.ok(&mut cmd)?;
        let took = start.elapsed();
        self.ok(self.command().args(["rm", "-f", "-t", "0", name]))?;
        Ok(took)
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let quiet = |cmd: &mut Command| {
            let _ = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status();
        };
        quiet(self.command().args(["rm", "-a", "-f", "-t", "0"]));
        // Not `system reset`: that also removes host-wide podman networks.
        quiet(self.command().args(["rmi", "-a", "-f"]));
        // Whatever storage podman left mounted.
        quiet(
            Command::new("umount")
                .arg("-R")
                .arg("-l")
                .arg(self.dir.join("root")),
        );
        if self.made_libpod_parent {
            crate::pods::runc::remove_cgroups(LIBPOD_PARENT);
        }
    }
}

/// Whether `program` is on the PATH.
pub fn which(program: &str) -> Result<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
        .with_context(|| format!("{program} is not on the PATH"))
}
