//! The kubelet's streaming API behind the API server, driven by the real kubectl: a Node
//! whose kubelet endpoint is a [`krust_kubelet::server`] on loopback, backed by a fake
//! [`Streams`] that runs host processes for exec and attach, reads test log files and
//! forwards to local echo listeners.

use async_trait::async_trait;
use futures::FutureExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use krust_kubelet::server::{self, Session, StreamError, Streams};
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const NODE: &str = "krt-stream-node";
const POD: &str = "web";
const KUBECTL_TIMEOUT: Duration = Duration::from_secs(30);

/// Host processes and files standing in for containers.
struct Fake {
    logs: PathBuf,
    /// Terminal sizes received for exec sessions with a tty.
    resizes: Arc<std::sync::Mutex<Vec<(u16, u16)>>>,
}

fn spawn_session(mut cmd: tokio::process::Command, stdin: bool) -> Result<Session, StreamError> {
    cmd.stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| StreamError::internal(e.to_string()))?;
    let stdin = child
        .stdin
        .take()
        .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncWrite + Send + Unpin>);
    let stdout = child
        .stdout
        .take()
        .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>);
    let stderr = child
        .stderr
        .take()
        .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>);
    Ok(Session {
        stdin,
        stdout,
        stderr,
        resize: None,
        exit: async move { child.wait().await.ok().and_then(|s| s.code()).unwrap_or(-1) }.boxed(),
    })
}

#[async_trait]
impl Streams for Fake {
    async fn log_path(
        &self,
        _ns: &str,
        _pod: &str,
        container: &str,
        previous: bool,
    ) -> Result<PathBuf, StreamError> {
        if container != "main" {
            return Err(StreamError::not_found(format!(
                "container {container:?} not found"
            )));
        }
        Ok(self.logs.join(if previous { "0.log" } else { "1.log" }))
    }

    async fn exec(
        &self,
        _ns: &str,
        _pod: &str,
        _container: &str,
        command: Vec<String>,
        tty: bool,
        stdin: bool,
    ) -> Result<Session, StreamError> {
        let mut cmd = tokio::process::Command::new(&command[0]);
        cmd.args(&command[1..]);
        let mut session = spawn_session(cmd, stdin)?;
        if tty {
            let (tx, mut rx) = tokio::sync::mpsc::channel(8);
            let resizes = self.resizes.clone();
            tokio::spawn(async move {
                while let Some(size) = rx.recv().await {
                    resizes.lock().unwrap().push(size);
                }
            });
            session.resize = Some(tx);
            session.stderr = None;
        }
        Ok(session)
    }

    async fn attach(
        &self,
        _ns: &str,
        _pod: &str,
        _container: &str,
        _tty: bool,
        stdin: bool,
    ) -> Result<Session, StreamError> {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.args(["-c", "echo attached; cat"]);
        spawn_session(cmd, stdin)
    }

    async fn port_forward(
        &self,
        _ns: &str,
        _pod: &str,
        port: u16,
    ) -> Result<TcpStream, StreamError> {
        TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| StreamError::internal(e.to_string()))
    }
}

/// An API server, a kubelet server for [`NODE`] and a running pod [`POD`] on it.
struct Cluster {
    server: krust_testkit::TestServer,
    cache: tempfile::TempDir,
    logs: tempfile::TempDir,
    resizes: Arc<std::sync::Mutex<Vec<(u16, u16)>>>,
}

const PREVIOUS_LOG: &str = "2026-12-06T11:00:00.000000001Z stdout F from the first attempt\n";
const CURRENT_LOG: &str = "2026-12-06T11:22:33.123456789Z stdout F line one\n\
    2026-12-06T11:22:34Z stderr F line two\n\
    2026-12-06T11:22:35Z stdout P line th\n\
    2026-12-06T11:22:35.5Z stdout F ree\n";

impl Cluster {
    async fn start() -> Cluster {
        let server = krust_testkit::start().await;
        let logs = tempfile::tempdir().unwrap();
        std::fs::write(logs.path().join("0.log"), PREVIOUS_LOG).unwrap();
        std::fs::write(logs.path().join("1.log"), CURRENT_LOG).unwrap();
        let pki = pki(server.dir.path());
        let (cert, key) = pki
            .kubelet_serving(NODE, &["127.0.0.1".parse().unwrap()])
            .unwrap();
        let tls = server::tls::server_config(&pki.ca_cert, &cert, &key).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let resizes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let streams = Arc::new(Fake {
            logs: logs.path().to_path_buf(),
            resizes: resizes.clone(),
        });
        tokio::spawn(server::serve(listener, tls, streams, NODE.to_string()));

        let nodes: kube::Api<Node> = kube::Api::all(server.client.clone());
        nodes
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": NODE}})).unwrap(),
            )
            .await
            .unwrap();
        let status = json!({"status": {
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": NODE}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
        }});
        nodes
            .patch_status(NODE, &PatchParams::default(), &Patch::Merge(status))
            .await
            .unwrap();
        let pods: kube::Api<Pod> = server.api("default");
        let pod = json!({"metadata": {"name": POD}, "spec": {"nodeName": NODE, "containers": [{"name": "main", "image": "busybox"}]}});
        pods.create(
            &PostParams::default(),
            &serde_json::from_value(pod).unwrap(),
        )
        .await
        .unwrap();
        let status = json!({"status": {"phase": "Running", "containerStatuses": [{"name": "main", "image": "busybox", "imageID": "", "ready": true, "restartCount": 1, "state": {"running": {}}}]}});
        pods.patch_status(POD, &PatchParams::default(), &Patch::Merge(status))
            .await
            .unwrap();
        Cluster {
            server,
            cache: tempfile::tempdir().unwrap(),
            logs,
            resizes,
        }
    }

    fn kubectl(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("kubectl");
        cmd.arg("--kubeconfig")
            .arg(&self.server.running.kubeconfig)
            .arg("--cache-dir")
            .arg(self.cache.path())
            .args(args)
            .kill_on_drop(true);
        cmd
    }

    /// Runs kubectl to its end: (exit code, stdout, stderr).
    async fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
        self.run_with(self.kubectl(args), args, stdin).await
    }

    /// Runs kubectl with WebSockets turned off, so that it speaks SPDY/3.1 (its fallback).
    async fn run_spdy(&self, args: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
        let mut cmd = self.kubectl(args);
        cmd.env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false");
        self.run_with(cmd, args, stdin).await
    }

    async fn run_with(
        &self,
        mut cmd: tokio::process::Command,
        args: &[&str],
        stdin: Option<&[u8]>,
    ) -> (i32, String, String) {
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl runs");
        if let Some(input) = stdin {
            let mut w = child.stdin.take().unwrap();
            w.write_all(input).await.unwrap();
            drop(w);
        }
        let out = tokio::time::timeout(KUBECTL_TIMEOUT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} did not finish"))
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn pki(data_dir: &Path) -> krust_apiserver::Pki {
    krust_apiserver::Pki::load_or_create(&data_dir.join("pki"), &[], &[]).unwrap()
}

fn ok(r: (i32, String, String)) -> String {
    assert_eq!(r.0, 0, "kubectl failed: {}", r.2);
    r.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_reads_the_cri_log_with_tail_timestamps_and_previous() {
    let c = Cluster::start().await;
    assert_eq!(
        ok(c.run(&["logs", POD], None).await),
        "line one\nline two\nline three\n"
    );
    assert_eq!(ok(c.run(&["logs", POD, "--tail=1"], None).await), "ree\n");
    assert_eq!(
        ok(c.run(&["logs", POD, "--tail=2", "--timestamps"], None)
            .await),
        "2026-12-06T11:22:35.000000000Z line th2026-12-06T11:22:35.500000000Z ree\n"
    );
    assert_eq!(
        ok(c.run(&["logs", POD, "--previous"], None).await),
        "from the first attempt\n"
    );
    assert_eq!(
        ok(c.run(&["logs", POD, "--limit-bytes=4"], None).await),
        "line"
    );
    assert_eq!(
        ok(
            c.run(&["logs", POD, "--since-time=2026-12-06T11:22:34Z"], None)
                .await
        ),
        "line two\nline three\n"
    );
    let (code, _, err) = c.run(&["logs", POD, "-c", "nope"], None).await;
    assert_ne!(code, 0);
    assert!(
        err.contains("container nope is not valid for pod web"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_follow_streams_lines_appended_later() {
    let c = Cluster::start().await;
    let mut child = c
        .kubectl(&["logs", "-f", "--tail=1", POD])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let next = async |lines: &mut tokio::io::Lines<_>| {
        tokio::time::timeout(KUBECTL_TIMEOUT, lines.next_line())
            .await
            .expect("a line in time")
            .unwrap()
            .unwrap()
    };
    assert_eq!(next(&mut lines).await, "ree");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(c.logs.path().join("1.log"))
        .unwrap();
    use std::io::Write;
    f.write_all(b"2026-12-06T11:22:40Z stdout F appended\n")
        .unwrap();
    assert_eq!(next(&mut lines).await, "appended");
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_exec_returns_output_and_the_exit_code() {
    let c = Cluster::start().await;
    assert_eq!(
        ok(c.run(
            &["exec", POD, "--", "sh", "-c", "echo out; echo err >&2"],
            None
        )
        .await),
        "out\n"
    );
    let (code, _, err) = c
        .run(&["exec", POD, "--", "sh", "-c", "exit 3"], None)
        .await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("command terminated with exit code 3"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_exec_with_a_terminal_sends_its_size() {
    let c = Cluster::start().await;
    // `script` gives kubectl a terminal of 100x30.
    let kubectl = format!(
        "stty cols 100 rows 30; kubectl --kubeconfig {} --cache-dir {} exec -it {POD} -- sh -c 'sleep 0.5; echo in a tty'",
        c.server.running.kubeconfig.display(),
        c.cache.path().display()
    );
    let mut cmd = tokio::process::Command::new("script");
    cmd.args(["-qec", &kubectl, "/dev/null"]).kill_on_drop(true);
    let (code, out, err) = c.run_with(cmd, &["exec", "-it"], None).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("in a tty"), "{out}");
    assert!(
        c.resizes.lock().unwrap().contains(&(100, 30)),
        "{:?}",
        c.resizes.lock().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_exec_over_spdy_returns_output_stdin_and_the_exit_code() {
    let c = Cluster::start().await;
    assert_eq!(
        ok(c.run_spdy(
            &[
                "exec",
                "-i",
                POD,
                "--",
                "sh",
                "-c",
                "tr a-z A-Z; echo err >&2"
            ],
            Some(b"spdy\n")
        )
        .await),
        "SPDY\n"
    );
    let (code, _, err) = c
        .run_spdy(&["exec", POD, "--", "sh", "-c", "exit 4"], None)
        .await;
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("command terminated with exit code 4"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_exec_with_stdin_feeds_the_process() {
    let c = Cluster::start().await;
    assert_eq!(
        ok(c.run(
            &["exec", "-i", POD, "--", "sh", "-c", "tr a-z A-Z"],
            Some(b"hello stdin\n")
        )
        .await),
        "HELLO STDIN\n"
    );
    let big = vec![b'x'; 2 << 20];
    let out = ok(c
        .run(&["exec", "-i", POD, "--", "wc", "-c"], Some(&big))
        .await);
    assert_eq!(out.trim(), (2u32 << 20).to_string());
    let out = ok(c
        .run_spdy(&["exec", "-i", POD, "--", "wc", "-c"], Some(&big))
        .await);
    assert_eq!(out.trim(), (2u32 << 20).to_string());
    let out = ok(c
        .run(
            &["exec", POD, "--", "head", "-c", "3000000", "/dev/zero"],
            None,
        )
        .await);
    assert_eq!(out.len(), 3_000_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_attach_with_stdin_reaches_the_main_process() {
    let c = Cluster::start().await;
    let out = ok(c.run(&["attach", "-i", POD], Some(b"echoed\n")).await);
    assert!(out.contains("echoed"), "{out}");
}

async fn echo_listener() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    port
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn echo_through(port: u16, text: &[u8]) -> Vec<u8> {
    let s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut r, mut w) = s.into_split();
    let text = text.to_vec();
    let len = text.len();
    let writer = tokio::spawn(async move { w.write_all(&text).await.unwrap() });
    let mut got = vec![0u8; len];
    tokio::time::timeout(KUBECTL_TIMEOUT, r.read_exact(&mut got))
        .await
        .expect("the echo in time")
        .unwrap();
    writer.await.unwrap();
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_port_forward_carries_two_ports_to_the_pod() {
    port_forward_two_ports(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_port_forward_over_plain_spdy_carries_two_ports() {
    port_forward_two_ports(false).await;
}

async fn port_forward_two_ports(websockets: bool) {
    let c = Cluster::start().await;
    let (p1, p2) = (echo_listener().await, echo_listener().await);
    let (l1, l2) = (free_port(), free_port());
    let mut child = c
        .kubectl(&[
            "port-forward",
            &format!("pod/{POD}"),
            "--address=127.0.0.1",
            &format!("{l1}:{p1}"),
            &format!("{l2}:{p2}"),
        ])
        .env("KUBECTL_PORT_FORWARD_WEBSOCKETS", websockets.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    for _ in 0..2 {
        let line = tokio::time::timeout(KUBECTL_TIMEOUT, lines.next_line())
            .await
            .expect("kubectl forwards in time")
            .unwrap()
            .expect("a Forwarding line");
        assert!(line.starts_with("Forwarding from 127.0.0.1:"), "{line}");
    }
    assert_eq!(echo_through(l1, b"first port").await, b"first port");
    assert_eq!(echo_through(l2, b"second port").await, b"second port");
    // A second connection on the same port.
    assert_eq!(echo_through(l1, b"again").await, b"again");
    // More than SPDY's initial 64 KiB window, both ways at once.
    let big: Vec<u8> = (0..(4u32 << 20)).map(|i| (i % 251) as u8).collect();
    assert!(
        echo_through(l2, &big).await == big,
        "4 MiB came back changed"
    );
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_on_a_node_without_a_kubelet_is_a_clear_error() {
    let c = Cluster::start().await;
    let nodes: kube::Api<Node> = kube::Api::all(c.server.client.clone());
    let status = json!({"status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": 0}}}});
    nodes
        .patch_status(NODE, &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();
    let (code, _, err) = c.run(&["exec", POD, "--", "true"], None).await;
    assert_ne!(code, 0);
    assert!(err.contains("has no kubelet endpoint"), "{err}");
    let (code, _, err) = c.run(&["logs", POD], None).await;
    assert_ne!(code, 0);
    assert!(err.contains("does not serve logs yet"), "{err}");

    // An address where nothing answers.
    let status = json!({"status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": free_port()}}}});
    nodes
        .patch_status(NODE, &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();
    let (code, _, err) = c.run(&["exec", POD, "--", "true"], None).await;
    assert_ne!(code, 0);
    assert!(err.contains("error dialing backend"), "{err}");
    let (code, _, err) = c.run(&["logs", POD], None).await;
    assert_ne!(code, 0);
    assert!(err.contains("does not serve logs yet"), "{err}");
}

/// The Python interpreter with the official client: `$KRUST_PYTHON`, else the build
/// directory's `target/python-venv` (what `scripts/test.sh` sets up).
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("KRUST_PYTHON") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("target/<profile>/deps/<test>");
    let python = target.join("python-venv").join("bin").join("python");
    assert!(
        python.exists(),
        "no Python with the Kubernetes client: set KRUST_PYTHON or run ./scripts/test.sh"
    );
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_execs_and_forwards_over_v4_channels() {
    let c = Cluster::start().await;
    let echo = echo_listener().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/stream_v4.py");
    let home = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(python())
        .arg(script)
        .arg(&c.server.running.kubeconfig)
        .arg(POD)
        .arg(echo.to_string())
        .env_remove("KUBECONFIG")
        .env("HOME", home.path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("the script ends in time")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("ok"),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A raw HTTPS request to the kubelet with a client certificate (or none): the status line.
async fn kubelet_status_line(c: &Cluster, client: Option<(String, String)>) -> String {
    let pki = pki(c.server.dir.path());
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pki.ca_cert.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                rustls_pemfile::certs(&mut cert.as_bytes())
                    .map(Result::unwrap)
                    .collect(),
                rustls_pemfile::private_key(&mut key.as_bytes())
                    .unwrap()
                    .unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let nodes: kube::Api<Node> = kube::Api::all(c.server.client.clone());
    let node = nodes.get(NODE).await.unwrap();
    let port = node
        .status
        .unwrap()
        .daemon_endpoints
        .unwrap()
        .kubelet_endpoint
        .unwrap()
        .port;
    let tcp = TcpStream::connect(("127.0.0.1", port as u16))
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    tls.write_all(
        format!(
            "GET /containerLogs/default/{POD}/main HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = String::new();
    let _ = tls.read_to_string(&mut answer).await;
    answer.lines().next().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubelet_serves_only_callers_the_cluster_ca_vouches_for() {
    let c = Cluster::start().await;
    let pki = pki(c.server.dir.path());
    let admin = Some((pki.admin_cert.clone(), pki.admin_key.clone()));
    assert_eq!(kubelet_status_line(&c, admin).await, "HTTP/1.1 200 OK");
    let node = Some(
        pki.client(&format!("system:node:{NODE}"), Some("system:nodes"))
            .unwrap(),
    );
    assert_eq!(kubelet_status_line(&c, node).await, "HTTP/1.1 200 OK");
    let other = Some(pki.client("alice", Some("developers")).unwrap());
    assert_eq!(
        kubelet_status_line(&c, other).await,
        "HTTP/1.1 403 Forbidden"
    );
    assert_eq!(
        kubelet_status_line(&c, None).await,
        "HTTP/1.1 401 Unauthorized"
    );
}
