//! What the pod network's tests share: network namespaces they make and always remove (the
//! "host" of each test is one, so the real host's network is never touched), a node's
//! configuration inside one, and a tiny TCP/UDP listener and sender run on threads moved into
//! a namespace.
#![allow(dead_code)] // each test file uses a part

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use krust_net::NetworkConfig;
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

/// A network namespace this test made (`/run/netns/krt-…`), deleted on drop.
pub struct Netns {
    pub name: String,
    pub path: PathBuf,
}

impl Netns {
    /// A new namespace with `lo` up, named `krt-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> Netns {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("krt-{tag}-{}-{n}", std::process::id());
        run("ip", &["netns", "add", &name]);
        let ns = Netns {
            path: PathBuf::from(format!("/run/netns/{name}")),
            name,
        };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n <name> args`, which must succeed; what it printed.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// `ip -n <name>` with the words of `line`, which must succeed; what it printed.
    pub fn ip_line(&self, line: &str) -> String {
        self.ip(&line.split_whitespace().collect::<Vec<_>>())
    }

    /// `ip -n <name> args`: whether it succeeded, and stdout and stderr.
    pub fn try_ip(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("ip")
            .args(["-n", &self.name])
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    }

    /// `nft args` inside the namespace: whether it succeeded, and what it printed.
    pub fn nft(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, "nft"])
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    }

    /// Runs `f` on a thread inside the namespace.
    pub fn run<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> R {
        self.spawn(f).join().expect("thread in namespace")
    }

    /// Starts `f` on a thread inside the namespace.
    pub fn spawn<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> JoinHandle<R> {
        let path = self.path.clone();
        std::thread::spawn(move || {
            enter(&path);
            f()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Moves this thread into the namespace at `path`.
pub fn enter(path: &Path) {
    let file = File::open(path).unwrap();
    move_into_link_name_space(file.as_fd(), Some(LinkNameSpaceType::Network)).unwrap();
}

/// Runs a command that must succeed; its stdout.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A node for a test: its host namespace, its state directory and its configuration
/// (bridge `krt-br0`, pods 10.42.0.0/24 of 10.42.0.0/16, services 10.43.0.0/16).
pub struct Node {
    pub config: NetworkConfig,
    pub state: tempfile::TempDir,
    pub host: Netns,
}

impl Node {
    pub fn new(tag: &str) -> Node {
        let host = Netns::new(tag);
        let state = tempfile::tempdir().unwrap();
        let mut config = NetworkConfig::new("10.42.0.0/24".parse().unwrap(), state.path());
        config.bridge = "krt-br0".to_string();
        config.host_netns = Some(host.path.clone());
        Node {
            config,
            state,
            host,
        }
    }
}

/// A stand-in for the machine's uplink in a test's host namespace: `krt-up`, one end of a
/// veth pair whose other end (`krt-up-peer`) is in the same namespace, so what is sent
/// through it stays there (this kernel has no dummy devices).
pub fn uplink(host: &Netns) {
    host.ip(&[
        "link",
        "add",
        "krt-up",
        "type",
        "veth",
        "peer",
        "name",
        "krt-up-peer",
    ]);
    host.ip(&["link", "set", "krt-up-peer", "up"]);
    host.ip(&["link", "set", "krt-up", "up"]);
}

/// Accepts one TCP connection on `addr` inside `ns` (listening when this returns) and
/// gives what the peer sent and the peer's address.
pub fn tcp_listen_once(ns: &Netns, addr: SocketAddr) -> JoinHandle<(String, SocketAddr)> {
    let (ready, listening) = std::sync::mpsc::channel();
    let handle = ns.spawn(move || {
        let listener = TcpListener::bind(addr).unwrap();
        listener.set_nonblocking(true).unwrap();
        ready.send(()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let (mut conn, peer) = loop {
            match listener.accept() {
                Ok(c) => break c,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "nothing connected to {addr}");
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("accept on {addr}: {e}"),
            }
        };
        conn.set_nonblocking(false).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = String::new();
        conn.read_to_string(&mut got).unwrap();
        (got, peer)
    });
    listening.recv().unwrap();
    handle
}

/// Connects from inside `ns` to `to` and sends `message`.
pub fn tcp_send(ns: &Netns, to: SocketAddr, message: &str) -> std::io::Result<()> {
    let message = message.to_string();
    ns.run(move || {
        let mut conn = TcpStream::connect_timeout(&to, Duration::from_secs(3))?;
        conn.write_all(message.as_bytes())?;
        conn.shutdown(std::net::Shutdown::Write)
    })
}

/// Sends `message` over TCP from `from` to `to` through a listener at `listen` in `target`;
/// what the listener got.
pub fn tcp_roundtrip(from: &Netns, to: SocketAddr, target: &Netns, listen: SocketAddr) -> String {
    let listener = tcp_listen_once(target, listen);
    tcp_send(from, to, "hello").unwrap_or_else(|e| panic!("connecting to {to}: {e}"));
    listener.join().unwrap().0
}

/// Receives one UDP datagram on `addr` inside `ns` (bound when this returns).
pub fn udp_receive_once(ns: &Netns, addr: SocketAddr) -> JoinHandle<String> {
    let (ready, bound) = std::sync::mpsc::channel();
    let handle = ns.spawn(move || {
        let socket = UdpSocket::bind(addr).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        ready.send(()).unwrap();
        let mut buf = [0u8; 512];
        let (n, _) = socket.recv_from(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    });
    bound.recv().unwrap();
    handle
}

/// Sends one UDP datagram from inside `ns`.
pub fn udp_send(ns: &Netns, to: SocketAddr, message: &str) {
    let message = message.to_string();
    ns.run(move || {
        let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
        socket.send_to(message.as_bytes(), to).unwrap();
    });
}
