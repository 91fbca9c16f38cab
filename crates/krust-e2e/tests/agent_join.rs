//! A second host joins the cluster with `krust agent` (root): a network namespace
//! `krt-ag<n>` with a veth pair to this host (`10.39.<n>.1` here, `10.39.<n>.2` there) acts
//! as the other machine. The agent bootstraps with the server's join token, its node turns
//! Ready, a pod pinned to it runs with logs and exec through its kubelet, `kubectl get csr`
//! shows both requests approved and issued, a wrong token gets 401, and a restarted agent
//! reuses its credentials. Namespace, veths, the agent's pods and its pod network (inside
//! the namespace) are removed by Drop guards, also when the test fails.

mod real_node_support;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use krust_e2e::{Cluster, ROLLOUT_TIMEOUT, krust_bin, run_with_timeout, true_within};
use krust_image::testing::BusyboxImage;
use real_node_support::*;

/// The test's number: names and ranges of its own.
fn n() -> u32 {
    krust_e2e::test_number()
}

fn netns() -> String {
    format!("krt-ag{}", n())
}

fn host_ip() -> String {
    format!("10.39.{}.1", n())
}

fn agent_ip() -> String {
    format!("10.39.{}.2", n())
}

fn agent_node() -> String {
    format!("krt-ag-{}", n())
}

fn ip(args: &[&str]) {
    let out = run_with_timeout(
        {
            let mut c = Command::new("ip");
            c.args(args);
            c
        },
        Duration::from_secs(10),
    );
    assert!(out.success(), "ip {}: {}", args.join(" "), out.stderr);
}

/// The "other host": a network namespace joined to this one by a veth pair. Deleted when
/// dropped (with the veth pair, and the bridge and veths the agent made inside).
struct OtherHost;

impl OtherHost {
    fn create() -> OtherHost {
        let ns = netns();
        // A namespace left by an earlier run with the same pid goes first.
        let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        ip(&["netns", "add", &ns]);
        let guard = OtherHost;
        let (outside, inside) = (format!("{ns}h"), format!("{ns}n"));
        ip(&[
            "link", "add", &outside, "type", "veth", "peer", "name", &inside,
        ]);
        ip(&["link", "set", &inside, "netns", &ns]);
        ip(&["addr", "add", &format!("{}/30", host_ip()), "dev", &outside]);
        ip(&["link", "set", &outside, "up"]);
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{}/30", agent_ip()),
            "dev",
            &inside,
        ]);
        ip(&["-n", &ns, "link", "set", &inside, "up"]);
        ip(&["-n", &ns, "link", "set", "lo", "up"]);
        guard
    }
}

impl Drop for OtherHost {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &netns()]).status();
        let _ = Command::new("ip")
            .args(["link", "del", &format!("{}h", netns())])
            .stderr(Stdio::null())
            .status();
    }
}

/// `krust ARGS` inside the other host's network namespace (the host's mounts and cgroups
/// stay visible, as on another machine's host; `ip netns exec` would remount `/sys`).
fn in_other_host(args: &[&str]) -> Command {
    let mut c = Command::new("nsenter");
    c.arg(format!("--net=/run/netns/{}", netns()))
        .arg(krust_bin())
        .args(args);
    c
}

/// A `krust agent` process in the other host; stopped (SIGTERM) when dropped.
struct Agent {
    child: Option<Child>,
    stderr: PathBuf,
}

impl Agent {
    fn start(server: &str, token: Option<&str>, data_dir: &Path, log: PathBuf) -> Agent {
        let mut args = vec![
            "agent".to_string(),
            "--server".into(),
            server.into(),
            "--data-dir".into(),
            data_dir.to_str().expect("path").into(),
            "--node-name".into(),
            agent_node(),
            "--bridge".into(),
            format!("krt-agb{}", n()),
            "--kubelet-port".into(),
            "0".into(),
        ];
        if let Some(t) = token {
            args.extend(["--token".to_string(), t.to_string()]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let child = in_other_host(&refs)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("agent log"))
            .spawn()
            .expect("starting krust agent");
        Agent {
            child: Some(child),
            stderr: log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            krust_e2e::terminate(child);
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Removes the agent's containers and pod network (inside the namespace) when dropped.
struct AgentHostCleanup(PathBuf);

impl Drop for AgentHostCleanup {
    fn drop(&mut self) {
        let out = run_with_timeout(
            in_other_host(&["killall", "--data-dir", self.0.to_str().expect("path")]),
            Duration::from_secs(60),
        );
        if !out.success() {
            eprintln!("krust killall in {}: {}", netns(), out.stderr);
        }
    }
}

/// The rows of `kubectl get csr` as (name, signer, requestor, condition).
fn csrs(c: &Cluster) -> Vec<Vec<String>> {
    krust_e2e::table(&c.ok(&["get", "csr"]))
        .into_iter()
        .skip(1)
        .collect()
}

#[test]
fn another_host_joins_with_a_token_and_runs_pods() {
    // Locals drop in reverse order: the agents stop, the agent's host is cleaned (in its
    // namespace), the cluster stops and cleans this host, then the namespace goes.
    let other = OtherHost::create();
    let agent_dir = tempfile::Builder::new()
        .prefix("krust-agent-")
        .tempdir()
        .expect("tempdir");
    let c = cluster_with(&[
        "--listen",
        &format!("{}:0", host_ip()),
        "--cluster-cidr",
        &format!("10.40.{}.0/23", 2 * n()),
    ]);
    let cleanup = AgentHostCleanup(agent_dir.path().to_path_buf());
    let archive = BusyboxImage::default().archive(agent_dir.path(), IMAGE);
    let load = run_with_timeout(
        {
            let mut cmd = Command::new(krust_bin());
            cmd.args([
                "image",
                "load",
                archive.to_str().expect("path"),
                "--data-dir",
            ])
            .arg(agent_dir.path());
            cmd
        },
        Duration::from_secs(60),
    );
    assert!(load.success(), "image load: {}", load.stderr);

    let token = std::fs::read_to_string(c.data_dir().join("token")).expect("the join token");
    let token = token.trim();
    assert!(token.starts_with("K10") && token.contains("::"), "{token}");

    // A wrong secret with the right CA hash: 401, and the agent gives up.
    let (hash, _) = token.split_once("::").expect("K10<hash>::<token>");
    let wrong = format!("{hash}::abcdef.0123456789abcdef");
    let bad_dir = tempfile::tempdir().expect("tempdir");
    let refused = run_with_timeout(
        in_other_host(&[
            "agent",
            "--server",
            c.url(),
            "--token",
            &wrong,
            "--data-dir",
            bad_dir.path().to_str().expect("path"),
            "--node-name",
            "krt-ag-wrong",
        ]),
        Duration::from_secs(30),
    );
    assert!(!refused.success());
    assert!(
        refused.stderr.contains("401") && refused.stderr.contains("Unauthorized"),
        "{}",
        refused.stderr
    );
    // A token naming another CA is not trusted.
    let other_ca = format!(
        "K10{}::{}",
        "0".repeat(64),
        token.split_once("::").unwrap().1
    );
    let distrusted = run_with_timeout(
        in_other_host(&[
            "agent",
            "--server",
            c.url(),
            "--token",
            &other_ca,
            "--data-dir",
            bad_dir.path().to_str().expect("path"),
            "--node-name",
            "krt-ag-wrong",
        ]),
        Duration::from_secs(30),
    );
    assert!(
        !distrusted.success() && distrusted.stderr.contains("refusing to trust it"),
        "{}",
        distrusted.stderr
    );

    let mut agent = Agent::start(
        c.url(),
        Some(token),
        agent_dir.path(),
        agent_dir.path().join("agent-1.log"),
    );
    let node = agent_node();
    let ready = true_within(ROLLOUT_TIMEOUT, || {
        krust_e2e::table(&c.ok(&["get", "nodes"]))
            .iter()
            .any(|row| row[0] == node && row[1] == "Ready")
    });
    assert!(
        ready,
        "{node} is not Ready:\n{}\n--- agent ---\n{}\n--- server ---\n{}",
        c.ok(&["get", "nodes", "-o", "wide"]),
        agent.log(),
        krust_e2e::tail(&c.server_stderr(), 30)
    );
    assert_eq!(
        c.jsonpath(&["node", &node], "{.status.addresses[0].address}"),
        agent_ip()
    );
    let pod_cidr = c.jsonpath(&["node", &node], "{.spec.podCIDR}");
    assert!(pod_cidr.starts_with("10.40."), "{pod_cidr}");

    // Both requests approved and issued: the client certificate asked with the bootstrap
    // token, the serving certificate by the node itself.
    let rows = csrs(&c);
    assert_eq!(rows.len(), 2, "{rows:?}");
    let bootstrap_user = format!(
        "system:bootstrap:{}",
        &token.split_once("::").unwrap().1[..6]
    );
    assert!(
        rows.iter()
            .any(|r| r[2] == "kubernetes.io/kube-apiserver-client-kubelet"
                && r[3] == bootstrap_user
                && r[5] == "Approved,Issued"),
        "{rows:?}"
    );
    assert!(
        rows.iter().any(|r| r[2] == "kubernetes.io/kubelet-serving"
            && r[3] == format!("system:node:{node}")
            && r[5] == "Approved,Issued"),
        "{rows:?}"
    );

    // A pod pinned to the new node runs there; logs and exec go through its kubelet.
    apply(
        &c,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata:
  name: on-agent
spec:
  nodeName: {node}
  containers:
  - name: main
    image: {IMAGE}
    imagePullPolicy: Never
    command: [sh, -c, "echo hello from the agent; sleep 3600"]
"#
        ),
    );
    wait_running(&c, "on-agent");
    let pod_ip = c.jsonpath(&["pod", "on-agent"], "{.status.podIP}");
    let prefix = pod_cidr
        .rsplit_once('.')
        .map(|(p, _)| p)
        .unwrap_or_default();
    assert!(pod_ip.starts_with(prefix), "{pod_ip} not in {pod_cidr}");
    assert_eq!(
        c.jsonpath(&["pod", "on-agent"], "{.status.hostIP}"),
        agent_ip()
    );
    assert!(true_within(ROLLOUT_TIMEOUT, || c
        .kubectl(&["logs", "on-agent"])
        .stdout
        .contains("hello from the agent")));
    assert_eq!(
        sh(&c, "on-agent", "echo exec-ok $(hostname)").trim(),
        "exec-ok on-agent"
    );

    // Restarted without a token, the agent reuses its credentials: no new request, the
    // node stays Ready and its pod keeps running.
    agent.stop();
    let mut agent = Agent::start(
        c.url(),
        None,
        agent_dir.path(),
        agent_dir.path().join("agent-2.log"),
    );
    assert!(
        true_within(ROLLOUT_TIMEOUT, || agent
            .log()
            .contains("real node registered")),
        "the restarted agent did not register:\n{}",
        agent.log()
    );
    assert!(
        agent.log().contains("using the node's credentials"),
        "{}",
        agent.log()
    );
    assert_eq!(csrs(&c).len(), 2, "{:?}", csrs(&c));
    assert_eq!(
        c.jsonpath(&["pod", "on-agent"], "{.status.phase}"),
        "Running"
    );
    // The same container, adopted (exec answers once the agent's pod worker has it again).
    let adopted = true_within(ROLLOUT_TIMEOUT, || {
        c.kubectl(&["exec", "on-agent", "--", "sh", "-c", "echo again"])
            .stdout
            .trim()
            == "again"
    });
    assert!(adopted, "no exec after the restart:\n{}", agent.log());
    let restarts = c.jsonpath(
        &["pod", "on-agent"],
        "{.status.containerStatuses[0].restartCount}",
    );
    assert_eq!(
        restarts,
        "0",
        "the container was not adopted:\n{}\n--- first agent ---\n{}\n--- restarted agent ---\n{}",
        c.ok(&["describe", "pod", "on-agent"]),
        krust_e2e::tail(
            &std::fs::read_to_string(agent_dir.path().join("agent-1.log")).unwrap_or_default(),
            30
        ),
        agent.log()
    );

    c.ok(&[
        "delete",
        "pod",
        "on-agent",
        "--grace-period=1",
        "--wait=true",
    ]);
    // `krust killall` on the agent's host leaves nothing of its node: no mount under its
    // data dir, no container process, no bridge in its namespace.
    agent.stop();
    drop(cleanup);
    let dir = agent_dir.path().to_str().expect("path").to_string();
    let mounts = std::fs::read_to_string("/proc/mounts").expect("mounts");
    assert!(!mounts.contains(&dir), "mounts left under {dir}");
    let links = run_with_timeout(
        {
            let mut cmd = Command::new("ip");
            cmd.args(["-n", &netns(), "-o", "link"]);
            cmd
        },
        Duration::from_secs(10),
    );
    assert!(
        !links.stdout.contains(&format!("krt-agb{}", n())),
        "{}",
        links.stdout
    );
    let monitors = run_with_timeout(
        {
            let mut cmd = Command::new("pgrep");
            cmd.args(["-f", &dir]);
            cmd
        },
        Duration::from_secs(10),
    );
    assert!(
        monitors.stdout.trim().is_empty(),
        "processes left: {}",
        monitors.stdout
    );
    drop(other);
}
