//! The cluster every test starts: an API server, a kubelet server for [`NODE`], a running
//! pod [`POD`] on it, and kubectl against them.

use crate::fake::Fake;
use k8s_openapi::api::core::v1::{Node, Pod};
use krust_kubelet::server;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

pub const NODE: &str = "krt-stream-node";
pub const POD: &str = "web";
pub const KUBECTL_TIMEOUT: Duration = Duration::from_secs(30);

/// An API server, a kubelet server for [`NODE`] and a running pod [`POD`] on it.
pub struct Cluster {
    pub server: krust_testkit::TestServer,
    pub cache: tempfile::TempDir,
    pub logs: tempfile::TempDir,
    pub resizes: Arc<std::sync::Mutex<Vec<(u16, u16)>>>,
}

pub const PREVIOUS_LOG: &str = "2026-12-06T11:00:00.000000001Z stdout F from the first attempt\n";
pub const CURRENT_LOG: &str = "2026-12-06T11:22:33.123456789Z stdout F line one\n\
    2026-12-06T11:22:34Z stderr F line two\n\
    2026-12-06T11:22:35Z stdout P line th\n\
    2026-12-06T11:22:35.5Z stdout F ree\n";

impl Cluster {
    pub async fn start() -> Cluster {
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
        let access = server::Access::new(server.client.clone(), NODE.to_string());
        tokio::spawn(server::serve(listener, tls, streams, access));

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

    pub fn kubectl(&self, args: &[&str]) -> tokio::process::Command {
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
    pub async fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
        self.run_with(self.kubectl(args), args, stdin).await
    }

    /// Runs kubectl with WebSockets turned off, so that it speaks SPDY/3.1 (its fallback).
    pub async fn run_spdy(&self, args: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
        let mut cmd = self.kubectl(args);
        cmd.env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false");
        self.run_with(cmd, args, stdin).await
    }

    pub async fn run_with(
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

pub fn pki(data_dir: &Path) -> krust_apiserver::Pki {
    krust_apiserver::Pki::load_or_create(&data_dir.join("pki"), &[], &[]).unwrap()
}

pub fn ok(r: (i32, String, String)) -> String {
    assert_eq!(r.0, 0, "kubectl failed: {}", r.2);
    r.1
}
