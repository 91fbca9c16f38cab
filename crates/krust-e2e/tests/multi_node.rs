//! Pods on different nodes reach each other (root): the server's own node and agents in
//! network namespaces acting as hosts, joined with `krust agent`, in both pod network modes.
//!
//! - Routes (`krust server`'s default): this host and two test hosts `krt-mn<n>a`, `…b` share
//!   one L2 segment, a test bridge `krt-mnb<n>` (`10.37.<n>.0/24`). Pods on the three nodes
//!   reach each other by pod IP and see each other's real addresses (an httpd CGI printing
//!   `REMOTE_ADDR`), a pod reaches a Service whose only pod is on another node, a
//!   NetworkPolicy admits a pod of one node and not one of another, a deleted
//!   Node's route goes from its peers, and stopping an agent or `krust killall` leaves no
//!   peer route.
//! - VXLAN (`--pod-network vxlan`, followed by the agents from the cluster's ConfigMap): test
//!   hosts `krt-mn<n>b` and `…c` on two subnets (`10.38.<4n>.0/24`, `10.38.<4n+1>.0/24`) that
//!   this host routes between. Pods across them reach each other, their MTU is the
//!   underlay's less 50 (host c's link has MTU 1400), 200 KB pass intact both ways, a
//!   Service on another node answers, and stopping or `krust killall` leaves no VXLAN device,
//!   FDB entry or route.
//!
//! The node bridges are `krt-mn<n>x`, the cluster range `10.36.<4n>.0/22`, the services
//! `10.35.<n>.0/24` (n = the test number `krust_e2e::test_number()` % 64). Namespaces,
//! links and agents are removed by Drop guards, also when a test fails; every address is on
//! this machine, and a counter on the default-route interface checks that no packet for
//! these ranges left it.

mod real_node_support;

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use krust_e2e::{Cluster, Output, ROLLOUT_TIMEOUT, krust_bin, run_with_timeout, true_within};
use krust_image::testing::BusyboxImage;
use real_node_support::*;
use serde_json::json;

/// The test's number: names and ranges of its own.
fn n() -> u32 {
    krust_e2e::test_number() % 64
}

/// Tests of one process share its names: they run one at a time (nextest runs each test in
/// a process of its own anyway).
static SERIAL: Mutex<()> = Mutex::new(());

fn node_bridge() -> String {
    format!("krt-mn{}x", n())
}

fn vxlan_device() -> String {
    format!("{}.vx", node_bridge())
}

fn cluster_cidr() -> String {
    format!("10.36.{}.0/22", 4 * n())
}

/// `krust server` flags shared by both modes: this host's node, its bridge and ranges.
fn server_args(listen: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--listen",
        &format!("{listen}:0"),
        "--node-ip",
        listen,
        "--node-name",
        &format!("krt-mn{}", n()),
        "--bridge",
        &node_bridge(),
        "--cluster-cidr",
        &cluster_cidr(),
        "--service-cidr",
        &format!("10.35.{}.0/24", n()),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn run(program: &str, args: &[&str]) -> Output {
    let mut c = Command::new(program);
    c.args(args);
    run_with_timeout(c, Duration::from_secs(30))
}

fn ip(args: &[&str]) -> String {
    let out = run("ip", args);
    assert!(out.success(), "ip {}: {}", args.join(" "), out.stderr);
    out.stdout
}

/// `ip` commands that undo what the test made, run in reverse order when dropped.
#[derive(Default)]
struct Undo(Vec<Vec<String>>);

impl Undo {
    /// Runs `ip args` and remembers `ip undo`.
    fn ip(&mut self, args: &[&str], undo: &[&str]) {
        self.0.push(undo.iter().map(|s| s.to_string()).collect());
        ip(args);
    }

    /// A network namespace `ns` playing a host, with `addr` (a CIDR) on a veth whose host
    /// end (`<ns>h`, returned) is left down, and MTU `mtu` on both ends.
    fn host(&mut self, ns: &str, addr: &str, mtu: u32) -> String {
        // One left by an earlier run with the same number goes first.
        let _ = run("ip", &["netns", "del", ns]);
        self.ip(&["netns", "add", ns], &["netns", "del", ns]);
        let (outside, inside) = (format!("{ns}h"), format!("{ns}n"));
        let mtu = mtu.to_string();
        self.ip(
            &[
                "link", "add", &outside, "mtu", &mtu, "type", "veth", "peer", "name", &inside,
                "mtu", &mtu, "netns", ns,
            ],
            &["link", "del", &outside],
        );
        ip(&["-n", ns, "addr", "add", addr, "dev", &inside]);
        ip(&["-n", ns, "link", "set", &inside, "up"]);
        ip(&["-n", ns, "link", "set", "lo", "up"]);
        outside
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        for args in self.0.iter().rev() {
            let _ = Command::new("ip").args(args).stderr(Stdio::null()).status();
        }
    }
}

/// `krust ARGS` in the network namespace `ns` (the host's mounts and cgroups stay visible,
/// as on another machine's host).
fn krust_in(ns: &str, args: &[&str]) -> Command {
    let mut c = Command::new("nsenter");
    c.arg(format!("--net=/run/netns/{ns}"))
        .arg(krust_bin())
        .args(args);
    c
}

/// A `krust agent` in a test host, with its own data dir (the busybox image loaded).
/// Dropped: stopped, then `krust killall` in its namespace.
struct Agent {
    ns: String,
    node: String,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Agent {
    /// Joins the test host `ns` to `c` as node `krt-mn<n>-<tag>`.
    fn join(c: &Cluster, ns: &str, tag: &str) -> Agent {
        let dir = tempfile::Builder::new()
            .prefix("krust-agent-")
            .tempdir()
            .expect("tempdir");
        let archive = BusyboxImage::default().archive(dir.path(), IMAGE);
        let data_dir = dir.path().join("data");
        let data = data_dir.to_str().expect("path");
        let load = run(
            krust_bin().to_str().expect("path"),
            &[
                "image",
                "load",
                archive.to_str().expect("path"),
                "--data-dir",
                data,
            ],
        );
        assert!(load.success(), "image load: {}", load.stderr);
        let token = std::fs::read_to_string(c.data_dir().join("token")).expect("the join token");
        let node = format!("krt-mn{}-{tag}", n());
        let bridge = node_bridge();
        let child = krust_in(
            ns,
            &[
                "agent",
                "--server",
                c.url(),
                "--token",
                token.trim(),
                "--data-dir",
                data,
                "--node-name",
                &node,
                "--bridge",
                &bridge,
                "--kubelet-port",
                "0",
            ],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(dir.path().join("agent.log")).expect("agent log"))
        .spawn()
        .expect("starting krust agent");
        Agent {
            ns: ns.to_string(),
            node,
            dir,
            child: Some(child),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            krust_e2e::terminate(child);
        }
    }

    /// `krust killall` of the agent's node, in its namespace: what it printed.
    fn run_killall(&self) -> Output {
        let data_dir = self.data_dir();
        let args = ["killall", "--data-dir", data_dir.to_str().expect("path")];
        run_with_timeout(krust_in(&self.ns, &args), Duration::from_secs(60))
    }

    /// `krust killall` of the agent's node, which must succeed.
    fn killall(&self) {
        let out = self.run_killall();
        assert!(
            out.success(),
            "krust killall in {}: {}",
            self.ns,
            out.stderr
        );
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop();
        let _ = self.run_killall();
    }
}

/// Waits until every one of `nodes` is Ready.
fn wait_ready(c: &Cluster, agents: &[&Agent]) {
    for agent in agents {
        let ready = true_within(ROLLOUT_TIMEOUT, || {
            krust_e2e::table(&c.ok(&["get", "nodes"]))
                .iter()
                .any(|row| row[0] == agent.node && row[1] == "Ready")
        });
        assert!(
            ready,
            "{} is not Ready:\n{}\n--- agent ---\n{}",
            agent.node,
            c.ok(&["get", "nodes", "-o", "wide"]),
            krust_e2e::tail(&agent.log(), 40)
        );
    }
}

/// What the test pods serve on port 8080: `/cgi-bin/peer` answers the caller's address,
/// `/big` is 200 KB of random bytes.
const SERVE: &str = "mkdir -p /www/cgi-bin && printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REMOTE_ADDR\\n' > /www/cgi-bin/peer && chmod +x /www/cgi-bin/peer && dd if=/dev/urandom of=/www/big bs=1024 count=200 2>/dev/null && exec httpd -f -p 8080 -h /www";

/// Runs pod `name` (label `app: <name>`) serving [`SERVE`] on `node`; its pod IP.
fn web_pod(c: &Cluster, name: &str, node: &str) -> String {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "main", "image": IMAGE, "imagePullPolicy": "Never",
                "command": ["sh", "-c", SERVE],
            }],
        },
    });
    apply(c, &pod.to_string());
    wait_running(c, name);
    c.jsonpath(&["pod", name], "{.status.podIP}")
}

/// What `GET /cgi-bin/peer` of `to` (an address, port 8080 unless given) answers in pod
/// `from`: the address `to` saw the call from (httpd writes it `[::ffff:10.36.0.2]`; empty
/// when it failed). (busybox's `wget -T` crashes: kubectl's timeout bounds a call.)
fn peer_seen(c: &Cluster, from: &str, to: &str) -> String {
    let to = if to.contains(':') {
        to.to_string()
    } else {
        format!("{to}:8080")
    };
    c.kubectl(&[
        "exec",
        from,
        "--",
        "wget",
        "-qO-",
        &format!("http://{to}/cgi-bin/peer"),
    ])
    .stdout
    .trim()
    .trim_start_matches("[::ffff:")
    .trim_end_matches(']')
    .to_string()
}

/// Whether pod `from` opens a TCP connection to `to`'s port 8080 within two seconds.
fn connects(c: &Cluster, from: &str, to: &str) -> bool {
    let script = format!("nc -w 2 {to} 8080 </dev/null && echo open");
    c.kubectl(&["exec", from, "--", "sh", "-c", &script])
        .stdout
        .contains("open")
}

/// Every pod of `pods` (name, IP) reaches every other one by pod IP and is seen with its
/// own address (nothing masqueraded).
fn all_reach_each_other(c: &Cluster, pods: &[(&str, &str)]) {
    for (from, from_ip) in pods {
        for (to, to_ip) in pods.iter().filter(|(to, _)| to != from) {
            let reached = true_within(ROLLOUT_TIMEOUT, || peer_seen(c, from, to_ip) == *from_ip);
            assert!(
                reached,
                "{from} ({from_ip}) did not reach {to} ({to_ip}) with its own address: {:?}\n{}",
                peer_seen(c, from, to_ip),
                krust_e2e::tail(&c.server_stderr(), 30)
            );
        }
    }
}

/// `kubectl expose pod <pod> --port 80 --target-port 8080`: the Service's ClusterIP.
fn expose(c: &Cluster, pod: &str) -> String {
    c.ok(&[
        "expose",
        "pod",
        pod,
        "--port",
        "80",
        "--target-port",
        "8080",
    ]);
    c.jsonpath(&["service", pod], "{.spec.clusterIP}")
}

/// krust's routes inside the cluster range in namespace `ns` (`None`: this host's),
/// `unreachable` ones aside.
fn peer_routes(ns: Option<&str>) -> String {
    let cluster = cluster_cidr();
    let mut args = vec![
        "route", "show", "root", &cluster, "proto", "107", "type", "unicast",
    ];
    if let Some(ns) = ns {
        args.splice(0..0, ["-n", ns]);
    }
    ip(&args)
}

/// Whether namespace `ns` (`None`: this host's) has the link `name`.
fn has_link(ns: Option<&str>, name: &str) -> bool {
    let mut args = vec!["-o", "link", "show"];
    if let Some(ns) = ns {
        args.splice(0..0, ["-n", ns]);
    }
    ip(&args).contains(&format!(" {name}:"))
}

/// Counts what leaves the host for the test's pod, service and underlay ranges.
fn leak_check() -> LeakCheck {
    LeakCheck::start(&[
        "10.35.0.0/16",
        "10.36.0.0/16",
        "10.37.0.0/16",
        "10.38.0.0/16",
    ])
}

/// The MTU of pod `pod`'s `eth0`.
fn pod_mtu(c: &Cluster, pod: &str) -> String {
    sh(c, pod, "cat /sys/class/net/eth0/mtu").trim().to_string()
}

#[test]
fn pods_on_one_l2_segment_reach_each_other_through_routes() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let n = n();
    let (ns_a, ns_b) = (format!("krt-mn{n}a"), format!("krt-mn{n}b"));
    let segment = format!("krt-mnb{n}");
    let leaks = leak_check();
    // Dropped last: the namespaces and links go once the nodes are cleaned.
    let mut undo = Undo::default();
    undo.ip(
        &["link", "add", &segment, "type", "bridge"],
        &["link", "del", &segment],
    );
    ip(&["addr", "add", &format!("10.37.{n}.1/24"), "dev", &segment]);
    ip(&["link", "set", &segment, "up"]);
    for (ns, addr) in [(&ns_a, 2), (&ns_b, 3)] {
        let end = undo.host(ns, &format!("10.37.{n}.{addr}/24"), 1500);
        ip(&["link", "set", &end, "master", &segment, "up"]);
    }
    let args = server_args(&format!("10.37.{n}.1"), &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut c = cluster_with(&args);
    let mut a = Agent::join(&c, &ns_a, "a");
    let b = Agent::join(&c, &ns_b, "b");
    wait_ready(&c, &[&a, &b]);
    let config = c.jsonpath(
        &["configmap", "-n", "kube-system", "krust-config"],
        "{.data.podNetwork}",
    );
    assert_eq!(config, "routes");

    let server_ip = web_pod(&c, "web-s", &c.node_name());
    let a_ip = web_pod(&c, "web-a", &a.node);
    let b_ip = web_pod(&c, "web-b", &b.node);
    all_reach_each_other(
        &c,
        &[("web-s", &server_ip), ("web-a", &a_ip), ("web-b", &b_ip)],
    );
    // Routes, no encapsulation: the underlay's MTU.
    assert_eq!(pod_mtu(&c, "web-a"), "1500");
    let a_cidr = c.jsonpath(&["node", &a.node], "{.spec.podCIDR}");
    let on_b = peer_routes(Some(&ns_b));
    assert!(
        on_b.contains(&format!("{a_cidr} via 10.37.{n}.2")),
        "{on_b}"
    );

    // A Service whose only pod is on node b, from a pod on a and from this host's pod.
    let cluster_ip = expose(&c, "web-b");
    for from in [("web-a", &a_ip), ("web-s", &server_ip)] {
        let seen = true_within(ROLLOUT_TIMEOUT, || {
            peer_seen(&c, from.0, &format!("{cluster_ip}:80")) == *from.1
        });
        assert!(
            seen,
            "{} did not reach web-b through {cluster_ip}: {:?}",
            from.0,
            peer_seen(&c, from.0, &format!("{cluster_ip}:80"))
        );
    }

    // A NetworkPolicy on web-b admits web-s (this host's node) and not web-a (node a):
    // enforced on node b for pods of other nodes, by their own addresses.
    let policy = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "b-from-s"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "web-b"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web-s"}}}]}],
        },
    });
    apply(&c, &policy.to_string());
    assert!(
        true_within(ROLLOUT_TIMEOUT, || !connects(&c, "web-a", &b_ip)),
        "web-a still reaches web-b through the policy"
    );
    assert_eq!(peer_seen(&c, "web-s", &b_ip), server_ip);
    c.ok(&["delete", "networkpolicy", "b-from-s"]);
    assert!(
        true_within(ROLLOUT_TIMEOUT, || connects(&c, "web-a", &b_ip)),
        "web-a does not reach web-b once the policy is gone"
    );

    // A stopped agent removes its peer routes (its pods keep running, unreachable from
    // elsewhere); `krust killall` leaves nothing in the cluster range.
    a.stop();
    assert_eq!(peer_routes(Some(&ns_a)), "");
    a.killall();
    let left = ip(&["-n", &ns_a, "route", "show", "root", &cluster_cidr()]);
    assert_eq!(left, "", "routes left in {ns_a}");
    // A deleted Node's route goes from its peers; the others stay.
    c.ok(&["delete", "node", &a.node]);
    let gone = true_within(ROLLOUT_TIMEOUT, || {
        !peer_routes(Some(&ns_b)).contains(&a_cidr) && !peer_routes(None).contains(&a_cidr)
    });
    assert!(gone, "{}\n{}", peer_routes(Some(&ns_b)), peer_routes(None));
    assert!(peer_routes(Some(&ns_b)).contains(&format!("via 10.37.{n}.1")));
    assert_eq!(peer_seen(&c, "web-b", &server_ip), b_ip);
    assert_eq!(
        leaks.leaked(),
        0,
        "packets for the test's ranges left the host"
    );

    // This host's node: stopped and killed, nothing of its peer routes is left.
    c.stop();
    assert_eq!(peer_routes(None), "");
    let killall = c.krust(&["killall"]);
    assert!(killall.success(), "{}", killall.stderr);
    assert_eq!(ip(&["route", "show", "root", &cluster_cidr()]), "");
}

#[test]
fn pods_on_hosts_in_different_subnets_reach_each_other_over_vxlan() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let n = n();
    let (ns_b, ns_c) = (format!("krt-mn{n}b"), format!("krt-mn{n}c"));
    let (net_b, net_c) = (format!("10.38.{}", 4 * n), format!("10.38.{}", 4 * n + 1));
    let leaks = leak_check();
    let mut undo = Undo::default();
    // Host c's underlay has a smaller MTU: its pods get 1350, host b's 1450.
    for (ns, net, mtu) in [(&ns_b, &net_b, 1500), (&ns_c, &net_c, 1400)] {
        let end = undo.host(ns, &format!("{net}.2/24"), mtu);
        ip(&["addr", "add", &format!("{net}.1/24"), "dev", &end]);
        ip(&["link", "set", &end, "up"]);
    }
    // This host routes between the two subnets (it forwards already: a node does).
    ip(&[
        "-n",
        &ns_b,
        "route",
        "add",
        &format!("{net_c}.0/24"),
        "via",
        &format!("{net_b}.1"),
    ]);
    ip(&[
        "-n",
        &ns_c,
        "route",
        "add",
        &format!("{net_b}.0/24"),
        "via",
        &format!("{net_c}.1"),
    ]);

    let args = server_args(&format!("{net_b}.1"), &["--pod-network", "vxlan"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut c = cluster_with(&args);
    // The agents have no flag: they follow the cluster's ConfigMap.
    let b = Agent::join(&c, &ns_b, "b");
    let mut agent_c = Agent::join(&c, &ns_c, "c");
    wait_ready(&c, &[&b, &agent_c]);
    for node in [c.node_name(), b.node.clone(), agent_c.node.clone()] {
        let announced = true_within(ROLLOUT_TIMEOUT, || {
            c.jsonpath(
                &["node", &node],
                "{.metadata.annotations.network\\.krust\\.dev/mode}",
            ) == "vxlan"
        });
        assert!(
            announced,
            "{node}: {}",
            c.ok(&["get", "node", &node, "-o", "yaml"])
        );
    }

    let server_ip = web_pod(&c, "web-s", &c.node_name());
    let b_ip = web_pod(&c, "web-b", &b.node);
    let c_ip = web_pod(&c, "web-c", &agent_c.node);
    all_reach_each_other(
        &c,
        &[("web-s", &server_ip), ("web-b", &b_ip), ("web-c", &c_ip)],
    );
    assert_eq!(pod_mtu(&c, "web-s"), "1450");
    assert_eq!(pod_mtu(&c, "web-b"), "1450");
    assert_eq!(pod_mtu(&c, "web-c"), "1350");
    // Static entries on host b for host c: an FDB entry to c's address, an onlink route.
    let c_cidr = c.jsonpath(&["node", &agent_c.node], "{.spec.podCIDR}");
    let fdb = run(
        "bridge",
        &["-n", &ns_b, "fdb", "show", "dev", &vxlan_device()],
    )
    .stdout;
    assert!(fdb.contains(&format!("dst {net_c}.2")), "{fdb}");
    let routes = peer_routes(Some(&ns_b));
    assert!(
        routes.contains(&format!("{c_cidr} via")) && routes.contains("onlink"),
        "{routes}"
    );

    // 200 KB both ways between hosts of different MTUs, intact.
    for (from, to, to_ip) in [("web-b", "web-c", &c_ip), ("web-c", "web-b", &b_ip)] {
        let want = sh(&c, to, "md5sum < /www/big");
        let got = sh(
            &c,
            from,
            &format!("wget -qO- http://{to_ip}:8080/big | md5sum"),
        );
        assert_eq!(got, want, "{from} fetching 200 KB from {to}");
    }

    // A Service whose only pod is on host c, from host b's pod.
    let cluster_ip = expose(&c, "web-c");
    let via_service = || peer_seen(&c, "web-b", &format!("{cluster_ip}:80"));
    assert!(
        true_within(ROLLOUT_TIMEOUT, || via_service() == b_ip),
        "{:?}",
        via_service()
    );
    assert_eq!(
        leaks.leaked(),
        0,
        "packets for the test's ranges left the host"
    );

    // A stopped agent leaves no VXLAN device or peer route; `krust killall` nothing at all.
    agent_c.stop();
    assert!(!has_link(Some(&ns_c), &vxlan_device()));
    assert_eq!(peer_routes(Some(&ns_c)), "");
    agent_c.killall();
    assert_eq!(
        ip(&["-n", &ns_c, "route", "show", "root", &cluster_cidr()]),
        ""
    );
    c.stop();
    assert!(!has_link(None, &vxlan_device()));
    assert_eq!(peer_routes(None), "");
    let killall = c.krust(&["killall"]);
    assert!(killall.success(), "{}", killall.stderr);
    assert_eq!(ip(&["route", "show", "root", &cluster_cidr()]), "");
    drop(b);
    let fdb = run(
        "bridge",
        &["-n", &ns_b, "fdb", "show", "dev", &vxlan_device()],
    );
    assert!(
        !fdb.success() || fdb.stdout.trim().is_empty(),
        "{}",
        fdb.stdout
    );
    assert!(!has_link(Some(&ns_b), &vxlan_device()));
}
