//! End-to-end harness: a `krust server` process driven by the real `kubectl`.
//!
//! Every test starts its own [`Cluster`]: a `krust server` on a fresh temporary data
//! directory, listening on a free port of 127.0.0.1. kubectl runs against the kubeconfig the
//! server writes, with a per-cluster `--cache-dir` so that no discovery or OpenAPI cache is
//! shared between clusters (or with the user's `~/.kube/cache`).
//!
//! The server binary is `$KRUST_BIN` if set, else `target/<profile>/krust` next to the test
//! executable. It is not built by the tests: run `cargo build -p krust` first (the workspace's
//! `scripts/test.sh` builds every target before running the tests). kubectl is `$KUBECTL` if
//! set, else `kubectl` from the `PATH`.

#![warn(missing_docs)]

pub mod cdp;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to print its ready line.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one kubectl command may run before it is killed and the test fails.
pub const KUBECTL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a rollout (or scaling) on a cluster of simulated nodes may take.
pub const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(60);

/// The path of the `krust` binary under test.
///
/// `$KRUST_BIN` if set; otherwise `krust` in the directory above the test executable's
/// (`target/debug/deps/<test>` gives `target/debug/krust`).
pub fn krust_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("KRUST_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps");
    profile_dir.join(format!("krust{}", std::env::consts::EXE_SUFFIX))
}

/// The kubectl command: `$KUBECTL` if set, else `kubectl`.
pub fn kubectl_bin() -> PathBuf {
    std::env::var_os("KUBECTL").map_or_else(|| PathBuf::from("kubectl"), PathBuf::from)
}

/// One pod, as [`Cluster::pods`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodSummary {
    /// `.status.phase` (empty if not set yet).
    pub phase: String,
    /// `.spec.nodeName` (empty while unscheduled).
    pub node: String,
    /// The image of the first container.
    pub image: String,
}

/// What a finished command printed, and how it ended.
#[derive(Debug)]
pub struct Output {
    /// How the process ended.
    pub status: ExitStatus,
    /// Everything written to stdout (lossily decoded as UTF-8).
    pub stdout: String,
    /// Everything written to stderr (lossily decoded as UTF-8).
    pub stderr: String,
}

impl Output {
    /// Whether the command exited with status 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }
}

/// Stops a krust process as an operator would (SIGTERM), killing it if it is still there
/// after five seconds, and reaps it.
pub fn terminate(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// This test process's number, 0 to 127, which no other running test process holds: the
/// names and address ranges of what a test makes on the host (bridges, nodes, namespaces,
/// tables) come from it, so tests running side by side never meet. A lock on a file per
/// number (in the temporary directory) claims it; the kernel lets it go when the process
/// ends, however it ends.
pub fn test_number() -> u32 {
    static HELD: std::sync::OnceLock<(u32, std::fs::File)> = std::sync::OnceLock::new();
    HELD.get_or_init(|| {
        let dir = std::env::temp_dir().join("krust-e2e-numbers");
        std::fs::create_dir_all(&dir).expect("the test numbers' directory");
        let first = std::process::id() % 128;
        for k in 0..128 {
            let n = (first + k) % 128;
            let file = std::fs::File::create(dir.join(n.to_string())).expect("a number's file");
            if file.try_lock().is_ok() {
                return (n, file);
            }
        }
        panic!("128 test processes hold every test number")
    })
    .0
}

/// Runs `cmd` to completion with stdin closed, killing it after `timeout`.
///
/// # Panics
/// If the command cannot be started, or runs longer than `timeout` (the panic shows what it
/// printed so far).
pub fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Output {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let stdout = read_all_in_background(child.stdout.take().expect("stdout"));
    let stderr = read_all_in_background(child.stderr.take().expect("stderr"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait().expect("waiting for a child process") {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                let out = stdout.join().unwrap_or_default();
                let err = stderr.join().unwrap_or_default();
                panic!(
                    "{what} still running after {timeout:?}; killed.\n--- stdout ---\n{out}\n--- stderr ---\n{err}"
                );
            }
            None => thread::sleep(Duration::from_millis(10)),
        }
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

fn read_all_in_background(mut r: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// A `krust server` process on its own temporary data directory; killed when dropped.
pub struct Cluster {
    /// The server process, `None` only in the middle of a restart.
    server: Option<Child>,
    /// Holds the data dir (`data/`), the kubectl cache dir (`cache/`), the server's stderr
    /// (`server-<n>.stderr`) and scratch files written by tests.
    dir: tempfile::TempDir,
    url: String,
    kubeconfig: PathBuf,
    /// How many server processes were started (one per start or restart).
    starts: u32,
    /// Extra `krust server` arguments, kept across restarts.
    args: Vec<String>,
    /// Whether the server runs this host as a real node (else `--disable-agent`).
    real_node: bool,
}

impl Cluster {
    /// Starts an API-only server (no scheduler, no controllers: objects stay as written) on a
    /// fresh data directory and a free port, and waits until it is ready.
    ///
    /// # Panics
    /// If the binary is missing, or the server exits or stays silent for 30 s before printing
    /// its ready line (the panic shows the server's stderr).
    pub fn start() -> Cluster {
        Self::start_with(&["--api-only"])
    }

    /// Starts a server with extra `krust server` arguments (e.g. `--sim-nodes 3` for a whole
    /// cluster with scheduler, controllers and simulated nodes).
    ///
    /// # Panics
    /// As [`Cluster::start`].
    pub fn start_with(args: &[&str]) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("krust-e2e-")
            .tempdir()
            .expect("tempdir");
        std::fs::create_dir_all(dir.path().join("cache")).expect("cache dir");
        let mut cluster = Cluster {
            server: None,
            dir,
            url: String::new(),
            kubeconfig: PathBuf::new(),
            starts: 0,
            args: args.iter().map(|a| a.to_string()).collect(),
            real_node: false,
        };
        cluster.spawn_server();
        cluster
    }

    /// Starts a whole cluster whose node is this host (root only): real containers. The
    /// node's names and ranges are the test's own (node `krt-e2e-<n>`, bridge `krt-e2e<n>`,
    /// pod CIDR `10.42.<128+n>.0/24`, service CIDR `10.43.<128+n>.0/24`, kubelet port chosen
    /// free), so such clusters run in parallel with each other and with sim clusters. A flag
    /// in `args` replaces the default of the same name (`--cluster-cidr`, `--listen`).
    ///
    /// # Panics
    /// As [`Cluster::start`].
    pub fn start_real_node(args: &[&str]) -> Cluster {
        let n = test_number();
        let defaults: Vec<String> = vec![
            "--node-name".into(),
            format!("krt-e2e-{n}"),
            "--bridge".into(),
            format!("krt-e2e{n}"),
            "--cluster-cidr".into(),
            format!("10.42.{}.0/24", 128 + n),
            "--service-cidr".into(),
            format!("10.43.{}.0/24", 128 + n),
            "--kubelet-port".into(),
            "0".into(),
        ];
        // A flag the test gives replaces the default of the same name.
        let mut all: Vec<String> = defaults
            .chunks(2)
            .filter(|pair| !args.contains(&pair[0].as_str()))
            .flatten()
            .cloned()
            .collect();
        all.extend(args.iter().map(|a| a.to_string()));
        let dir = tempfile::Builder::new()
            .prefix("krust-e2e-")
            .tempdir()
            .expect("tempdir");
        std::fs::create_dir_all(dir.path().join("cache")).expect("cache dir");
        let mut cluster = Cluster {
            server: None,
            dir,
            url: String::new(),
            kubeconfig: PathBuf::new(),
            starts: 0,
            args: all,
            real_node: true,
        };
        cluster.spawn_server();
        cluster
    }

    /// The real node's name (see [`Cluster::start_real_node`]): `--node-name` if the test
    /// gave one.
    pub fn node_name(&self) -> String {
        self.args
            .iter()
            .position(|a| a == "--node-name")
            .and_then(|i| self.args.get(i + 1))
            .cloned()
            .unwrap_or_else(|| format!("krt-e2e-{}", test_number()))
    }

    /// Runs `krust ARGS` (e.g. `image load`), with `--data-dir` of this cluster appended.
    pub fn krust(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(krust_bin());
        cmd.args(args).arg("--data-dir").arg(self.data_dir());
        run_with_timeout(cmd, Duration::from_secs(60))
    }

    /// Spawns the server on the data dir and waits for its ready line.
    fn spawn_server(&mut self) {
        let bin = krust_bin();
        assert!(
            bin.exists(),
            "{} does not exist: build it with `cargo build -p krust` (or set KRUST_BIN)",
            bin.display()
        );
        self.starts += 1;
        let stderr_path = self.stderr_path();
        let stderr = File::create(&stderr_path).expect("server stderr file");
        let mut child = Command::new(&bin)
            .arg("server")
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(
                ["--listen", "127.0.0.1:0"]
                    .iter()
                    .filter(|_| !self.args.iter().any(|a| a == "--listen")),
            )
            .args(["--disable-agent"].iter().filter(|_| !self.real_node))
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let lines = lines_in_background(child.stdout.take().expect("stdout"));
        let deadline = Instant::now() + START_TIMEOUT;
        let line = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) if line.starts_with("krust API server at ") => break line,
                Ok(_) => continue,
                Err(e) => {
                    let _ = child.kill();
                    let status = child.wait().ok();
                    let why = match e {
                        RecvTimeoutError::Timeout => {
                            format!("no ready line after {START_TIMEOUT:?}")
                        }
                        RecvTimeoutError::Disconnected => format!("server exited ({status:?})"),
                    };
                    let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                    panic!("krust server did not start: {why}\n--- server stderr ---\n{err}");
                }
            }
        };
        // "krust API server at https://127.0.0.1:PORT; kubeconfig: DIR/kubeconfig"
        let rest = &line["krust API server at ".len()..];
        let (url, kubeconfig) = rest
            .split_once("; kubeconfig: ")
            .unwrap_or_else(|| panic!("unexpected ready line {line:?}"));
        self.url = url.to_string();
        self.kubeconfig = PathBuf::from(kubeconfig);
        // Keep draining stdout so that the server never writes into a full or closed pipe.
        thread::spawn(move || for _ in lines {});
        self.server = Some(child);
    }

    /// `https://127.0.0.1:PORT`, the URL the server listens on.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {}", self.url))
    }

    /// The admin kubeconfig the server wrote.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The server's data directory (store, PKI, kubeconfig).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// kubectl's `--cache-dir` for this cluster.
    pub fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    fn stderr_path(&self) -> PathBuf {
        self.dir
            .path()
            .join(format!("server-{}.stderr", self.starts))
    }

    /// What the current server process wrote to stderr so far (its logs).
    pub fn server_stderr(&self) -> String {
        std::fs::read_to_string(self.stderr_path()).unwrap_or_default()
    }

    /// A kubeconfig `<name>.kubeconfig` for this server that presents the bearer `token` and
    /// no certificate (and does not check the server's).
    pub fn token_kubeconfig(&self, name: &str, token: &str) -> PathBuf {
        let config = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: krust\n  cluster:\n    \
             server: {}\n    insecure-skip-tls-verify: true\nusers:\n- name: {name}\n  user:\n    \
             token: {token}\ncontexts:\n- name: {name}\n  context:\n    cluster: krust\n    \
             user: {name}\n    namespace: default\ncurrent-context: {name}\n",
            self.url()
        );
        self.write_file(&format!("{name}.kubeconfig"), config)
    }

    /// Writes a scratch file (manifests, request bodies) into the cluster's temporary
    /// directory and returns its path.
    pub fn write_file(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents)
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }

    /// Whether the server process is still running.
    pub fn is_running(&mut self) -> bool {
        self.server
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// A kubectl command with the admin kubeconfig and this cluster's cache dir, not started.
    pub fn kubectl_command(&self, args: &[&str]) -> Command {
        self.kubectl_command_with(&self.kubeconfig, args)
    }

    /// A kubectl command with another kubeconfig (and this cluster's cache dir), not started.
    ///
    /// `KUBECONFIG` is removed and `HOME` points into the cluster's temporary directory, so
    /// nothing of the user's own kubectl configuration leaks in.
    pub fn kubectl_command_with(&self, kubeconfig: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(kubectl_bin());
        cmd.arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--cache-dir")
            .arg(self.cache_dir())
            .args(args)
            .env_remove("KUBECONFIG")
            .env("HOME", self.dir.path());
        cmd
    }

    /// Runs kubectl with the admin kubeconfig; returns its status and output.
    ///
    /// # Panics
    /// If kubectl cannot be started or runs longer than [`KUBECTL_TIMEOUT`].
    pub fn kubectl(&self, args: &[&str]) -> Output {
        run_with_timeout(self.kubectl_command(args), KUBECTL_TIMEOUT)
    }

    /// Runs kubectl with another kubeconfig; returns its status and output.
    pub fn kubectl_with(&self, kubeconfig: &Path, args: &[&str]) -> Output {
        run_with_timeout(self.kubectl_command_with(kubeconfig, args), KUBECTL_TIMEOUT)
    }

    /// Runs kubectl, asserts that it succeeded and returns its stdout.
    ///
    /// # Panics
    /// If kubectl fails; the panic shows its stderr and the server's logs.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        if !out.success() {
            panic!(
                "kubectl {} failed ({}).\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- server stderr (tail) ---\n{}",
                args.join(" "),
                out.status,
                out.stdout,
                out.stderr,
                tail(&self.server_stderr(), 40)
            );
        }
        out.stdout
    }

    /// Runs kubectl, asserts that it failed and returns its stderr.
    ///
    /// # Panics
    /// If kubectl succeeds; the panic shows its stdout.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        if out.success() {
            panic!(
                "kubectl {} succeeded but should have failed.\n--- stdout ---\n{}\n--- stderr ---\n{}",
                args.join(" "),
                out.stdout,
                out.stderr
            );
        }
        out.stderr
    }

    /// `kubectl get <what> -o jsonpath=<path>`: one field of a stored object.
    pub fn jsonpath(&self, what: &[&str], path: &str) -> String {
        let jp = format!("jsonpath={path}");
        let mut args = vec!["get"];
        args.extend_from_slice(what);
        args.extend_from_slice(&["-o", &jp]);
        self.ok(&args)
    }

    /// `kubectl get <what> -o json`, parsed.
    pub fn get_json(&self, what: &[&str]) -> serde_json::Value {
        let mut args = vec!["get"];
        args.extend_from_slice(what);
        args.extend_from_slice(&["-o", "json"]);
        let out = self.ok(&args);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("kubectl {args:?} printed invalid JSON ({e}):\n{out}"))
    }

    /// The pods matching the label selector `selector`, by name.
    pub fn pods(&self, selector: &str) -> BTreeMap<String, PodSummary> {
        let out = self.ok(&[
            "get",
            "pods",
            "-l",
            selector,
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}{\"\\t\"}{.status.phase}{\"\\t\"}{.spec.nodeName}{\"\\t\"}{.spec.containers[0].image}{\"\\n\"}{end}",
        ]);
        out.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                let [name, phase, node, image] = f[..] else {
                    return None;
                };
                let pod = PodSummary {
                    phase: phase.into(),
                    node: node.into(),
                    image: image.into(),
                };
                Some((name.to_string(), pod))
            })
            .collect()
    }

    /// Waits up to [`ROLLOUT_TIMEOUT`] until `kubectl get deploy <name>` shows `want` (`3/3`)
    /// in its READY column; returns whether it did.
    pub fn deployment_ready(&self, name: &str, want: &str) -> bool {
        true_within(ROLLOUT_TIMEOUT, || {
            self.kubectl(&["get", "deploy", name, "--no-headers"])
                .stdout
                .split_whitespace()
                .nth(1)
                == Some(want)
        })
    }

    /// Starts a long-running kubectl (`get -w`, …) whose stdout lines can be read as they
    /// come; it is killed when the returned [`Background`] is dropped.
    pub fn kubectl_background(&self, args: &[&str]) -> Background {
        Background::spawn(self.kubectl_command(args))
    }

    /// Kills the server with SIGKILL (no chance to flush or clean up), then starts a new
    /// server on the same data directory, on a new free port, and waits until it is ready.
    /// The kubeconfig is rewritten by the new server; `url()` and `port()` change.
    pub fn restart_after_kill9(&mut self) {
        self.kill9();
        self.spawn_server();
    }

    /// Kills the server with SIGKILL (no chance to clean up); [`Cluster::start_again`]
    /// starts a new one.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.server.take() {
            // `Child::kill` sends SIGKILL on Unix.
            child.kill().expect("kill -9 the server");
            child.wait().expect("reap the server");
        }
    }

    /// Stops the server as an operator would (SIGTERM), killing it if it is still there
    /// after a few seconds; [`Cluster::start_again`] starts a new one.
    pub fn stop(&mut self) {
        if let Some(child) = self.server.take() {
            terminate(child);
        }
    }

    /// Starts a server again on the same data directory after [`Cluster::stop`] or
    /// [`Cluster::kill9`], and waits until it is ready.
    pub fn start_again(&mut self) {
        assert!(self.server.is_none(), "the server is running");
        self.spawn_server();
    }
}

impl Drop for Cluster {
    /// Stops the server as an operator would (SIGTERM: it stops its sim nodes and removes the
    /// routes they added), killing it if it is still there after a few seconds.
    fn drop(&mut self) {
        self.stop();
        if self.real_node {
            // The node's containers outlive the server, as they should: remove them and the
            // pod network, so that the test leaves the host as it found it.
            let out = self.krust(&["killall"]);
            if !out.success() {
                eprintln!("krust killall: {}", out.stderr);
            }
        }
    }
}

fn lines_in_background(stdout: ChildStdout) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A long-running process whose stdout is read line by line; killed when dropped.
pub struct Background {
    child: Child,
    lines: Receiver<String>,
    stderr: Option<thread::JoinHandle<String>>,
    seen: Vec<String>,
}

impl Background {
    /// Starts `cmd` with stdin closed and stdout and stderr captured.
    pub fn spawn(mut cmd: Command) -> Background {
        let what = format!("{cmd:?}");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let lines = lines_in_background(child.stdout.take().expect("stdout"));
        let stderr = read_all_in_background(child.stderr.take().expect("stderr"));
        Background {
            child,
            lines,
            stderr: Some(stderr),
            seen: Vec::new(),
        }
    }

    /// The next stdout line, waiting at most `timeout`.
    ///
    /// # Panics
    /// If no line comes in time, or the process ends first; the panic lists the lines seen.
    pub fn next_line(&mut self, timeout: Duration) -> String {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(e) => {
                let state = match self.child.try_wait() {
                    Ok(Some(status)) => format!("exited with {status}"),
                    _ => "still running".to_string(),
                };
                panic!(
                    "no further stdout line within {timeout:?} ({e:?}; process {state}); lines so far:\n{}",
                    self.seen.join("\n")
                );
            }
        }
    }

    /// The next stdout line if one comes within `timeout`, else `None`.
    pub fn try_next_line(&mut self, timeout: Duration) -> Option<String> {
        let line = self.lines.recv_timeout(timeout).ok()?;
        self.seen.push(line.clone());
        Some(line)
    }

    /// The lines of a child's stdout as they come, read in the background (for a child
    /// spawned by hand, e.g. with its stdin piped).
    pub fn lines_of(stdout: ChildStdout) -> Receiver<String> {
        lines_in_background(stdout)
    }

    /// Every line read so far.
    pub fn seen(&self) -> &[String] {
        &self.seen
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the process and returns what it wrote to stderr.
    pub fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `check` becomes true within `timeout`, polled every 100 ms from this (blocking)
/// thread. Callers assert on it with their own message; async tests wait with
/// `krust_testkit::eventually`, which panics itself.
pub fn true_within(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// The whitespace-separated cells of each line of a `kubectl get` table (header included).
///
/// Multi-word headers (`NOMINATED NODE`) come out as two cells; compare headers with exact
/// strings instead.
pub fn table(output: &str) -> Vec<Vec<String>> {
    output
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

/// The value of a top-level `Field:   value` line of `kubectl describe` output (`None` if
/// absent). Only unindented lines are considered.
pub fn describe_field<'a>(output: &'a str, field: &str) -> Option<&'a str> {
    let prefix = format!("{field}:");
    output
        .lines()
        .find(|l| l.starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim())
}

/// Whether `age` looks like an AGE cell printed by kubectl (`0s`, `5s`, `3m2s`, `4h`, …).
pub fn is_age(age: &str) -> bool {
    !age.is_empty()
        && age.chars().next().is_some_and(|c| c.is_ascii_digit())
        && age
            .chars()
            .all(|c| c.is_ascii_digit() || "smhdy".contains(c))
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
