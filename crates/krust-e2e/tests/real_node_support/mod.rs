//! What the `real_node_*` tests share: a cluster whose node is this host with the offline
//! busybox image loaded, manifests applied from text, waits on pod phases and reasons, exec
//! in a pod, a plain HTTP GET to a forwarded port, and what tests count on the host (a
//! program's output, processes, a free port).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use krust_e2e::{Cluster, ROLLOUT_TIMEOUT, true_within};
use krust_image::testing::BusyboxImage;

pub mod web;
#[allow(unused_imports)]
pub use web::*;

/// The default busybox image (`Cmd ["sh"]`).
pub const IMAGE: &str = "krust.test/busybox:1";

/// A cluster whose node is this host (extra `krust server` args), with [`IMAGE`] loaded.
pub fn cluster_with(args: &[&str]) -> Cluster {
    let c = Cluster::start_real_node(args);
    load(&c, &BusyboxImage::default(), IMAGE);
    let node = c.node_name();
    assert!(
        true_within(ROLLOUT_TIMEOUT, || c
            .kubectl(&["get", "node", &node, "-o", "jsonpath={.spec.podCIDR}"])
            .stdout
            .contains('/')),
        "the node never got its pod CIDR: {}",
        c.server_stderr()
    );
    c
}

pub fn cluster() -> Cluster {
    cluster_with(&[])
}

/// The node's InternalIP.
pub fn node_ip(c: &Cluster) -> String {
    c.jsonpath(
        &["node", &c.node_name()],
        "{.status.addresses[?(@.type==\"InternalIP\")].address}",
    )
}

/// Loads `image` tagged `name` with `krust image load`.
pub fn load(c: &Cluster, image: &BusyboxImage, name: &str) {
    let archive = image.archive(&c.data_dir(), name);
    let load = c.krust(&["image", "load", archive.to_str().expect("path")]);
    assert!(load.success(), "krust image load {name}: {}", load.stderr);
}

/// `kubectl apply -f` of `yaml`.
pub fn apply(c: &Cluster, yaml: &str) {
    let path = c.write_file("manifest.yaml", yaml);
    c.ok(&["apply", "-f", path.to_str().expect("path")]);
}

/// Deletes every pod and waits until they are gone (the node stops and removes them).
pub fn remove_pods(c: &Cluster) {
    c.ok(&["delete", "pods", "--all", "--grace-period=1", "--wait=true"]);
}

/// Whether the pod reaches phase Running; panics with `describe` when it does not.
pub fn wait_running(c: &Cluster, pod: &str) {
    let ok = true_within(ROLLOUT_TIMEOUT, || {
        c.jsonpath(&["pod", pod], "{.status.phase}") == "Running"
    });
    assert!(
        ok,
        "{pod} is not Running:\n{}\n--- server ---\n{}",
        c.ok(&["describe", "pod", pod]),
        krust_e2e::tail(&c.server_stderr(), 40)
    );
}

/// Waits until `jsonpath` of the pod is `want`; panics with the pod's YAML when it is not.
pub fn wait_for(c: &Cluster, pod: &str, jsonpath: &str, want: &str) {
    let ok = true_within(ROLLOUT_TIMEOUT, || {
        c.jsonpath(&["pod", pod], jsonpath) == want
    });
    assert!(
        ok,
        "{pod}: {jsonpath} is {:?}, not {want:?}:\n{}",
        c.jsonpath(&["pod", pod], jsonpath),
        c.ok(&["get", "pod", pod, "-o", "yaml"])
    );
}

/// `kubectl exec POD -- sh -c SCRIPT`'s stdout; panics when it fails.
pub fn sh(c: &Cluster, pod: &str, script: &str) -> String {
    c.ok(&["exec", pod, "--", "sh", "-c", script])
}

/// The events of one object, as `kubectl get events` prints them.
pub fn events(c: &Cluster, name: &str) -> String {
    c.ok(&[
        "get",
        "events",
        "--field-selector",
        &format!("involvedObject.name={name}"),
    ])
}

/// Whether an event of the object mentions every one of `words` within the rollout timeout.
pub fn event_within(c: &Cluster, name: &str, words: &[&str]) -> bool {
    true_within(ROLLOUT_TIMEOUT, || {
        let e = events(c, name);
        words.iter().all(|w| e.contains(w))
    })
}

/// A plain `GET path` to `127.0.0.1:port`; the whole answer (status line, headers, body).
pub fn http_get(port: u16, path: &str) -> String {
    http_get_at("127.0.0.1", port, path)
}

/// A plain `GET path` to `host:port`; the whole answer.
pub fn http_get_at(host: &str, port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect((host, port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

/// The local port of a `kubectl port-forward` line `Forwarding from 127.0.0.1:PORT -> N`.
pub fn forwarded_port(line: &str) -> u16 {
    line.split("127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no local port in {line:?}"))
}

/// Counts packets to `ranges` leaving through the host's default-route interface (an
/// nftables table of the test's own, removed when dropped): DESIGN.md's network safety,
/// checked. (`real_node_services.rs` keeps a copy for krust's default ranges.)
pub struct LeakCheck {
    table: String,
}

impl LeakCheck {
    /// Starts counting packets to `ranges` (CIDRs).
    pub fn start(ranges: &[&str]) -> LeakCheck {
        let route = std::process::Command::new("ip")
            .args(["route", "show", "default"])
            .output()
            .expect("ip route");
        let route = String::from_utf8_lossy(&route.stdout).into_owned();
        let dev = route
            .split_whitespace()
            .skip_while(|w| *w != "dev")
            .nth(1)
            .unwrap_or("eth0")
            .to_string();
        let table = format!("krust-leakcheck-{}", std::process::id());
        let script = format!(
            "add table ip {table}; \
             add chain ip {table} out {{ type filter hook postrouting priority 500; }}; \
             add rule ip {table} out oifname \"{dev}\" ip daddr {{ {} }} counter",
            ranges.join(", ")
        );
        let out = std::process::Command::new("nft")
            .arg(&script)
            .output()
            .expect("nft");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        LeakCheck { table }
    }

    /// The packets counted so far.
    pub fn leaked(&self) -> u64 {
        let out = std::process::Command::new("nft")
            .args(["list", "table", "ip", &self.table])
            .output()
            .expect("nft");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let packets = text.split("packets ").nth(1).unwrap_or_default();
        packets
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for LeakCheck {
    fn drop(&mut self) {
        let _ = std::process::Command::new("nft")
            .args(["delete", "table", "ip", &self.table])
            .status();
    }
}

/// A program's stdout ("" when it cannot run).
pub fn output(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Every process as (pid, command line with NULs as spaces).
pub fn processes() -> impl Iterator<Item = (String, String)> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.to_string();
            pid.parse::<u32>().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            Some((pid, String::from_utf8_lossy(&cmdline).replace('\0', " ")))
        })
}

/// A TCP port free on every address now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind((std::net::Ipv4Addr::UNSPECIFIED, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Counts the packets for the cluster's ranges (all of 10.42.0.0/16 and 10.43.0.0/16) leaving
/// through the host's default-route interface while it lives.
pub fn leak_check() -> LeakCheck {
    LeakCheck::start(&["10.42.0.0/16", "10.43.0.0/16"])
}
