//! The local cluster as a newcomer drives it (root), as minikube's: `krust start` merges its
//! context into the user's kubeconfig (another context there stays) → `kubectl get nodes`
//! Ready → `krust image build` of a small web app → a Deployment of it exposed as a NodePort
//! Service answers at `krust service --url` → a second build, `kubectl set image` and
//! `rollout status` → `krust status` exits 0 → `krust stop` (status 7, no container left) →
//! `krust start` (the Deployment back and serving) → a second profile beside it (its own
//! node, context and node ports; both listed running; deleted leaving the first serving) →
//! `krust delete` (no process, mount, nft table, route, link or kubeconfig entry of it left).
//! HOME and KUBECONFIG point into a temporary directory; the profiles use this test's own
//! names and ranges.

mod real_node_support;

use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use krust_e2e::{
    KUBECTL_TIMEOUT, Output, ROLLOUT_TIMEOUT, krust_bin, kubectl_bin, run_with_timeout, true_within,
};
use krust_image::testing::BusyboxImage;
use real_node_support::{IMAGE, free_port, output, processes};

/// A kubeconfig the user had before: its context must survive.
const OTHER: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster:\n    server: https://other.invalid:6443\nusers:\n- name: other\n  user:\n    token: abc\ncontexts:\n- name: other\n  context:\n    cluster: other\n    user: other\ncurrent-context: other\n";

/// One local cluster profile under a temporary HOME; deleted (or at least killed and its
/// node removed) when dropped.
struct Local {
    home: std::sync::Arc<tempfile::TempDir>,
    n: u32,
    /// 0 for the test's first profile, 1 for a second one beside it (same HOME).
    slot: u32,
    name: String,
}

impl Local {
    fn new() -> Local {
        let home = tempfile::Builder::new()
            .prefix("krust-lc-")
            .tempdir()
            .expect("tempdir");
        std::fs::create_dir_all(home.path().join(".kube")).expect(".kube");
        std::fs::write(home.path().join(".kube/config"), OTHER).expect("kubeconfig");
        let n = krust_e2e::test_number();
        Local {
            home: std::sync::Arc::new(home),
            n,
            slot: 0,
            name: format!("krt-e2e-lc{n}"),
        }
    }

    /// A second profile of the same user, with names, ranges and ports of its own.
    fn beside(&self) -> Local {
        Local {
            home: self.home.clone(),
            n: self.n,
            slot: 1,
            name: format!("{}b", self.name),
        }
    }

    /// The node's bridge (`krt-lc<n>`, `krt-lc<n>b` for the second profile).
    fn bridge(&self) -> String {
        let suffix = if self.slot == 0 { "" } else { "b" };
        format!("krt-lc{}{suffix}", self.n)
    }

    /// The third octet of the profile's pod (`10.34.x.0/24`) and service (`10.33.x.0/24`)
    /// ranges.
    fn octet(&self) -> u32 {
        self.n + 128 * self.slot
    }

    fn env(&self, cmd: &mut Command) {
        cmd.env("HOME", self.home.path())
            .env("KUBECONFIG", self.home.path().join(".kube/config"));
    }

    /// `krust ARGS -p <profile>` (`krust profile list` takes no profile).
    fn krust(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(krust_bin());
        cmd.args(args);
        if args[0] != "profile" {
            cmd.args(["-p", &self.name]);
        }
        self.env(&mut cmd);
        run_with_timeout(cmd, Duration::from_secs(180))
    }

    /// `krust ARGS -p <profile>`, which must succeed; its stdout.
    fn krust_ok(&self, args: &[&str]) -> String {
        let out = self.krust(args);
        assert!(
            out.success(),
            "krust {args:?} failed ({}):\n{}\n{}\n--- log ---\n{}",
            out.status,
            out.stdout,
            out.stderr,
            self.log()
        );
        out.stdout
    }

    /// kubectl as the user runs it (the kubeconfig `krust start` wrote, its current context).
    fn kubectl(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(kubectl_bin());
        cmd.arg("--cache-dir")
            .arg(self.home.path().join("kube-cache"))
            .args(args);
        self.env(&mut cmd);
        run_with_timeout(cmd, KUBECTL_TIMEOUT)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.success(),
            "kubectl {args:?}: {}\n--- log ---\n{}",
            out.stderr,
            self.log()
        );
        out.stdout
    }

    /// The profile's data dir.
    fn dir(&self) -> PathBuf {
        self.home.path().join(".krust/profiles").join(&self.name)
    }

    fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir().join("krust.log")).unwrap_or_default();
        krust_e2e::tail(&log, 40)
    }

    /// The test's node ports (ten of its own: other tests' clusters share this host).
    fn node_ports(&self) -> std::ops::Range<u32> {
        let low = 20000 + 10 * (self.n + 128 * self.slot);
        low..low + 10
    }

    /// [`Local::node_ports`] as `--service-node-port-range` takes them.
    fn node_port_range(&self) -> String {
        let ports = self.node_ports();
        format!("{}-{}", ports.start, ports.end - 1)
    }

    /// `krust start` with the test's names and ranges; how long it took.
    fn start(&self, api_port: u16, kubelet_port: u16) -> (String, Duration) {
        let octet = self.octet();
        let started = Instant::now();
        let out = self.krust_ok(&[
            "start",
            "--node-name",
            &self.bridge().replace("krt-lc", "krt-lc-"),
            "--bridge",
            &self.bridge(),
            "--cluster-cidr",
            &format!("10.34.{octet}.0/24"),
            "--service-cidr",
            &format!("10.33.{octet}.0/24"),
            "--apiserver-port",
            &api_port.to_string(),
            "--kubelet-port",
            &kubelet_port.to_string(),
            "--service-node-port-range",
            &self.node_port_range(),
        ]);
        (out, started.elapsed())
    }

    /// What of the profile is on the host: processes, mounts, nft tables, routes, the bridge.
    fn traces(&self) -> Vec<String> {
        let dir = self.dir().to_string_lossy().into_owned();
        // The web app of the first profile serves from `/srv-lc<n>` (`web_dockerfile`).
        let app = format!("/srv-lc{}", self.octet());
        let mut left: Vec<String> = processes()
            .map(|(_, cmdline)| cmdline)
            .filter(|p| p.contains(&dir) || p.contains(&app))
            .collect();
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
        left.extend(
            mountinfo
                .lines()
                .filter(|l| l.contains(&dir))
                .map(String::from),
        );
        let bridge = self.bridge();
        let tables = output("nft", &["list", "tables"]);
        left.extend(
            tables
                .lines()
                .filter(|l| l.trim_end().ends_with(&format!("-{bridge}")))
                .map(String::from),
        );
        let routes = output("ip", &["route"]);
        let octet = self.octet();
        let ranges = [format!("10.34.{octet}."), format!("10.33.{octet}.")];
        left.extend(
            routes
                .lines()
                .filter(|l| ranges.iter().any(|r| l.contains(r)))
                .map(String::from),
        );
        left.extend(
            output("ip", &["-o", "link", "show", &bridge])
                .lines()
                .map(String::from),
        );
        left
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        if !self.dir().exists() {
            return;
        }
        let out = self.krust(&["delete"]);
        if !out.success() {
            eprintln!("krust delete: {}", out.stderr);
            if let Ok(pid) = std::fs::read_to_string(self.dir().join("krust.pid")) {
                let _ = Command::new("kill").args(["-9", pid.trim()]).status();
            }
            let mut killall = Command::new(krust_bin());
            killall.arg("killall").arg("--data-dir").arg(self.dir());
            let _ = run_with_timeout(killall, Duration::from_secs(60));
        }
    }
}

/// The test's web app: a page with the pod's name and the context's version, served from
/// a directory named for test `n` (so that `traces` recognises its process).
fn web_dockerfile(n: u32) -> String {
    format!(
        r#"FROM {IMAGE}
WORKDIR /app
COPY version.txt ./
CMD ["sh", "-c", "mkdir -p /srv-lc{n} && echo \"$(hostname) $(cat version.txt)\" > /srv-lc{n}/index.html && exec httpd -f -p 8080 -h /srv-lc{n}"]
"#
    )
}

/// `curl URL/index.html`'s body, trimmed ("" when nothing answered).
fn curl(url: &str) -> String {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "5", &format!("{url}/index.html")])
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_local_cluster_starts_serves_stops_comes_back_and_is_deleted_without_a_trace() {
    let local = Local::new();
    let n = local.n;
    let (api_port, kubelet_port) = (free_port(), free_port());

    // krust start: Ready, kubectl pointed at it, the user's other context kept.
    let (said, took) = local.start(api_port, kubelet_port);
    eprintln!("krust start (fresh) to a Ready node with DNS serving: {took:?}");
    assert!(
        said.contains(&format!(
            "kubectl is now configured to use \"{}\"",
            local.name
        )),
        "{said}"
    );
    let contexts = local.ok(&["config", "get-contexts", "-o", "name"]);
    let mut contexts: Vec<&str> = contexts.lines().collect();
    contexts.sort();
    assert_eq!(contexts, [local.name.as_str(), "other"]);
    assert_eq!(local.ok(&["config", "current-context"]).trim(), local.name);
    let nodes = local.ok(&["get", "nodes", "--no-headers"]);
    assert!(
        nodes.starts_with(&format!("krt-lc-{n} ")) && nodes.contains(" Ready "),
        "{nodes}"
    );
    let again = local.krust_ok(&["start"]);
    assert!(again.contains("already running"), "{again}");

    // The seed's flow without docker: a small web app built into the profile's node
    // (`krust image -p`, as `minikube image -p`) FROM the busybox loaded there, run as a
    // Deployment, exposed as a NodePort Service that answers at `krust service --url`.
    let archive = BusyboxImage::default().archive(local.home.path(), IMAGE);
    let loaded = local.krust_ok(&["image", "load", archive.to_str().expect("path")]);
    assert!(loaded.contains("Loaded image: "), "{loaded}");
    let app = local.home.path().join("app");
    std::fs::create_dir_all(&app).expect("build context");
    std::fs::write(app.join("Dockerfile"), web_dockerfile(n)).expect("Dockerfile");
    std::fs::write(app.join("version.txt"), "v1").expect("version.txt");
    let context = app.to_str().expect("path");
    let built = local.krust_ok(&["image", "build", "-t", "krust.test/lc-web:1", context]);
    assert!(
        built.contains("Successfully tagged krust.test/lc-web:1"),
        "{built}"
    );
    local.ok(&[
        "create",
        "deployment",
        "web",
        "--image",
        "krust.test/lc-web:1",
    ]);
    local.ok(&[
        "expose",
        "deployment",
        "web",
        "--type=NodePort",
        "--port=80",
        "--target-port=8080",
    ]);
    let url = local
        .krust_ok(&["service", "web", "--url"])
        .trim()
        .to_string();
    let ip = local.krust_ok(&["ip"]).trim().to_string();
    let port: u32 = url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    assert!(
        url.starts_with(&format!("http://{ip}:")) && local.node_ports().contains(&port),
        "{url} (node {ip}, node ports {})",
        local.node_port_range()
    );
    let serves = |version: &str| {
        let page = curl(&url);
        page.starts_with("web-") && page.ends_with(&format!(" {version}"))
    };
    assert!(
        true_within(ROLLOUT_TIMEOUT, || serves("v1")),
        "{url} did not answer: {}\n{}",
        local.ok(&["get", "pods", "-o", "wide"]),
        local.log()
    );

    // A change, a second tag (its unchanged steps cached), `kubectl set image`, rollout.
    std::fs::write(app.join("version.txt"), "v2").expect("version.txt");
    let second = local.krust_ok(&["image", "build", "-t", "krust.test/lc-web:2", context]);
    assert!(second.contains(" ---> Using cache"), "{second}");
    local.ok(&[
        "set",
        "image",
        "deployment/web",
        "lc-web=krust.test/lc-web:2",
    ]);
    let rollout = local.ok(&["rollout", "status", "deployment/web", "--timeout=120s"]);
    assert!(rollout.contains("successfully rolled out"), "{rollout}");
    assert!(
        true_within(ROLLOUT_TIMEOUT, || serves("v2")),
        "{url} still serves {:?}",
        curl(&url)
    );
    let missing = local.krust(&["service", "nope", "--url"]);
    assert!(
        !missing.success() && missing.stderr.contains("\"nope\" not found"),
        "{}",
        missing.stderr
    );
    let cluster_ip = local.krust(&["service", "kubernetes", "--url"]);
    assert!(
        cluster_ip.stderr.contains("no node port (type ClusterIP)"),
        "{}",
        cluster_ip.stderr
    );

    // status, profile list and logs.
    let status = local.krust(&["status"]);
    assert!(status.success(), "krust status: {}", status.stdout);
    for line in [
        "host: Running",
        "kubelet: Running",
        "apiserver: Running",
        "kubeconfig: Configured",
    ] {
        assert!(status.stdout.contains(line), "{line} in {}", status.stdout);
    }
    let list = local.krust_ok(&["profile", "list"]);
    assert!(
        list.lines()
            .any(|l| l.starts_with(&local.name) && l.contains("Running") && l.ends_with('*')),
        "{list}"
    );
    assert!(
        local
            .krust_ok(&["logs", "-n", "0"])
            .contains("API server ready")
    );

    // stop: nothing runs, the state stays.
    let veths = output("ip", &["-o", "link", "show", "master", &local.bridge()]);
    let veths: Vec<String> = veths
        .lines()
        .filter_map(|l| l.split(": ").nth(1)?.split('@').next().map(String::from))
        .collect();
    assert!(!veths.is_empty(), "the pod's veth on the bridge");
    local.krust_ok(&["stop"]);
    let status = local.krust(&["status"]);
    assert_eq!(status.status.code(), Some(7), "{}", status.stdout);
    assert!(status.stdout.contains("host: Stopped"), "{}", status.stdout);
    assert_eq!(
        local.traces(),
        Vec::<String>::new(),
        "left running after krust stop"
    );
    assert!(local.dir().join("state.db").exists(), "the store stays");

    // start again: the same Deployment comes back and serves.
    let (_, took) = local.start(api_port, kubelet_port);
    eprintln!(
        "krust start (again, one pod to bring back) to a Ready node with DNS serving: {took:?}"
    );
    assert!(
        true_within(ROLLOUT_TIMEOUT, || serves("v2")),
        "{url} did not answer after the restart: {}\n{}",
        local.ok(&["get", "pods", "-o", "wide"]),
        local.log()
    );
    let ready = local.ok(&[
        "get",
        "deploy",
        "web",
        "-o",
        "jsonpath={.status.readyReplicas}",
    ]);
    assert_eq!(ready, "1");

    // A second profile beside it: its own node, context and node ports; both listed as
    // running; deleting it leaves the first serving.
    let second = local.beside();
    let (said, _) = second.start(free_port(), free_port());
    assert!(said.contains(&format!("\"{}\"", second.name)), "{said}");
    let nodes = second.ok(&["get", "nodes", "--no-headers"]);
    assert!(
        nodes.starts_with(&second.bridge().replace("krt-lc", "krt-lc-"))
            && nodes.contains(" Ready "),
        "{nodes}"
    );
    let list = local.krust_ok(&["profile", "list"]);
    for (profile, current) in [(&local.name, false), (&second.name, true)] {
        assert!(
            list.lines().any(|l| l.starts_with(profile.as_str())
                && l.contains("Running")
                && l.ends_with('*') == current),
            "{profile} in {list}"
        );
    }
    second.krust_ok(&["delete"]);
    assert_eq!(
        second.traces(),
        Vec::<String>::new(),
        "left by the second profile"
    );
    local.ok(&["config", "use-context", &local.name]);
    assert!(serves("v2"), "{url} after the second profile's deletion");

    // delete: no trace left, the other context alone in the kubeconfig.
    local.krust_ok(&["delete"]);
    assert_eq!(
        local.traces(),
        Vec::<String>::new(),
        "left on the host after krust delete"
    );
    for veth in &veths {
        assert!(
            output("ip", &["-o", "link", "show", veth]).is_empty(),
            "{veth} left"
        );
    }
    assert!(!local.dir().exists(), "the profile's data dir is removed");
    let contexts = local.ok(&["config", "get-contexts", "-o", "name"]);
    assert_eq!(contexts.trim(), "other");
    let config = std::fs::read_to_string(local.home.path().join(".kube/config")).expect("config");
    assert!(!config.contains(&local.name), "{config}");
    let status = local.krust(&["status"]);
    assert_eq!(status.status.code(), Some(85), "{}", status.stdout);
}

#[test]
fn a_taken_port_is_named_with_its_process_and_no_profile_is_made() {
    let local = Local::new();
    let taken = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let n = local.n;
    let out = local.krust(&[
        "start",
        "--bridge",
        &format!("krt-lc{n}"),
        "--apiserver-port",
        &port.to_string(),
    ]);
    assert!(!out.success(), "{}", out.stdout);
    let pid = format!("pid {}", std::process::id());
    assert!(
        out.stderr.contains(&format!("port {port}")) && out.stderr.contains(&pid),
        "{}",
        out.stderr
    );
    assert!(!local.dir().exists(), "no profile is made");
    let status = local.krust(&["status"]);
    assert_eq!(status.status.code(), Some(85), "{}", status.stdout);
    assert!(status.stdout.contains("not found"), "{}", status.stdout);
    let images = local.krust(&["image", "ls"]);
    assert!(
        !images.success() && images.stderr.contains("start it with `krust start -p "),
        "{}",
        images.stderr
    );
}
