//! A real etcd for the benchmarks: the process (started on loopback, killed on drop) and a
//! minimal gRPC client over the v3 API (`KV/Range`, `KV/Txn`, `Watch/Watch`).

mod pb;

use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use http::uri::PathAndQuery;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;
use tonic::client::Grpc;
use tonic::transport::{Channel, Endpoint};
use tonic_prost::ProstCodec;

/// The Debian package that ships the `etcd` binary.
pub const PACKAGE: &str = "etcd-server";

/// An etcd server on loopback with its own temporary data directory; killed when dropped.
pub struct EtcdProcess {
    child: Child,
    /// The client URL, `http://127.0.0.1:<port>`.
    pub url: String,
    /// `etcd --version`'s first line.
    pub version: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl EtcdProcess {
    /// Starts `etcd` (from `PATH`) with default durability (fsync on every commit) and
    /// waits until it serves requests.
    pub async fn start() -> Result<Self> {
        let version = version()?;
        let dir = tempfile::Builder::new()
            .prefix("krust-bench-etcd-")
            .tempdir()?;
        let client = format!("http://127.0.0.1:{}", free_port()?);
        let peer = format!("http://127.0.0.1:{}", free_port()?);
        let log = dir.path().join("etcd.log");
        let out = File::create(&log)?;
        let child = Command::new("etcd")
            .arg("--name=bench")
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=bench={peer}"))
            .arg("--logger=zap")
            .arg("--log-level=warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("starting etcd")?;
        let mut etcd = Self {
            child,
            url: client,
            version,
            log,
            _dir: dir,
        };
        etcd.wait_ready().await?;
        Ok(etcd)
    }

    /// Polls a read until etcd answers, failing early if the process exits.
    async fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("etcd exited with {status}:\n{}", self.log_tail());
            }
            let attempt = async {
                let client = EtcdClient::connect(&self.url).await?;
                client.revision(b"/health").await
            };
            match tokio::time::timeout(Duration::from_secs(2), attempt).await {
                Ok(Ok(_)) => return Ok(()),
                _ if Instant::now() > deadline => {
                    bail!("etcd did not become ready in 30 s:\n{}", self.log_tail())
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `etcd --version`, or an error naming the package to install.
fn version() -> Result<String> {
    let output = Command::new("etcd").arg("--version").output();
    match output {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            let first = text.lines().next().unwrap_or_default();
            let number = first.trim().trim_start_matches("etcd Version:").trim();
            Ok(format!("etcd {number}"))
        }
        Ok(out) => bail!("`etcd --version` failed with {}", out.status),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => bail!(
            "`etcd` is not on PATH: install the Debian package `{PACKAGE}` \
             (apt-get install -y {PACKAGE})"
        ),
        Err(err) => Err(err).context("running `etcd --version`"),
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// The end of the key range holding every key that starts with `prefix` (etcd's
/// `clientv3.GetPrefixRangeEnd`).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// What a conditional write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnOutcome {
    /// Written at this revision.
    Written(i64),
    /// The compare failed; the key's current `mod_revision` (0: absent).
    Conflict(i64),
}

/// One HTTP/2 connection to etcd speaking the v3 gRPC API.
#[derive(Clone)]
pub struct EtcdClient {
    grpc: Grpc<Channel>,
}

impl EtcdClient {
    pub async fn connect(url: &str) -> Result<Self> {
        let channel = Endpoint::from_shared(url.to_owned())?
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("connecting to etcd at {url}"))?;
        Ok(Self {
            grpc: Grpc::new(channel),
        })
    }

    async fn unary<Req, Resp>(&self, path: &'static str, request: Req) -> Result<Resp>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let mut grpc = self.grpc.clone();
        grpc.ready().await?;
        let path = PathAndQuery::from_static(path);
        let response = grpc
            .unary(tonic::Request::new(request), path, ProstCodec::default())
            .await?;
        Ok(response.into_inner())
    }

    /// The store's current revision (read linearizably, as the API server's reads are).
    pub async fn revision(&self, key: &[u8]) -> Result<i64> {
        let request = pb::RangeRequest {
            key: key.to_vec(),
            count_only: true,
            ..Default::default()
        };
        let response: pb::RangeResponse = self.unary("/etcdserverpb.KV/Range", request).await?;
        Ok(response.header.map_or(0, |h| h.revision))
    }

    /// Writes `key` if its `mod_revision` is `expected` (0: create if absent); otherwise
    /// reads it back, in the same transaction, as the Kubernetes API server does.
    pub async fn put_if(&self, key: &[u8], value: Vec<u8>, expected: i64) -> Result<TxnOutcome> {
        use pb::{request_op::Request, response_op::Response};
        let request = pb::TxnRequest {
            compare: vec![pb::Compare {
                result: pb::COMPARE_EQUAL,
                target: pb::TARGET_MOD,
                key: key.to_vec(),
                mod_revision: Some(expected),
            }],
            success: vec![pb::RequestOp {
                request: Some(Request::Put(pb::PutRequest {
                    key: key.to_vec(),
                    value,
                    ..Default::default()
                })),
            }],
            failure: vec![pb::RequestOp {
                request: Some(Request::Range(pb::RangeRequest {
                    key: key.to_vec(),
                    ..Default::default()
                })),
            }],
        };
        let response: pb::TxnResponse = self.unary("/etcdserverpb.KV/Txn", request).await?;
        if response.succeeded {
            return Ok(TxnOutcome::Written(
                response.header.map_or(0, |h| h.revision),
            ));
        }
        let current = response
            .responses
            .into_iter()
            .find_map(|op| match op.response {
                Some(Response::Range(range)) => Some(range.kvs),
                _ => None,
            })
            .and_then(|kvs| kvs.into_iter().next())
            .map_or(0, |kv| kv.mod_revision);
        Ok(TxnOutcome::Conflict(current))
    }

    /// Watches every key under `prefix` from revision `start` on; returns once etcd has
    /// confirmed the watch.
    pub async fn watch(&self, prefix: &[u8], start: i64) -> Result<EtcdWatch> {
        let (requests, rx) = mpsc::channel(1);
        requests
            .send(pb::WatchRequest {
                request: Some(pb::watch_request::Request::Create(pb::WatchCreateRequest {
                    key: prefix.to_vec(),
                    range_end: prefix_end(prefix),
                    start_revision: start,
                    ..Default::default()
                })),
            })
            .await?;
        let mut grpc = self.grpc.clone();
        grpc.ready().await?;
        let path = PathAndQuery::from_static("/etcdserverpb.Watch/Watch");
        let request = tonic::Request::new(ReceiverStream::new(rx));
        let mut responses: Streaming<pb::WatchResponse> = grpc
            .streaming(request, path, ProstCodec::default())
            .await?
            .into_inner();
        let mut pending = Vec::new();
        loop {
            let Some(response) = responses.message().await? else {
                bail!("etcd closed the watch before confirming it");
            };
            if response.canceled {
                bail!("etcd refused the watch: {}", response.cancel_reason);
            }
            pending.extend(
                response
                    .events
                    .iter()
                    .filter_map(|e| e.kv.as_ref().map(|kv| kv.mod_revision)),
            );
            if response.created {
                return Ok(EtcdWatch {
                    _requests: requests,
                    responses,
                    pending,
                });
            }
        }
    }
}

/// An open etcd watch.
pub struct EtcdWatch {
    /// Keeps the request stream open: etcd ends the watch when the client stops sending.
    _requests: mpsc::Sender<pb::WatchRequest>,
    responses: Streaming<pb::WatchResponse>,
    pending: Vec<i64>,
}

impl EtcdWatch {
    /// Appends the `mod_revision` of each next event to `out`; `false` once the watch ended.
    pub async fn next(&mut self, out: &mut Vec<i64>) -> Result<bool> {
        if !self.pending.is_empty() {
            out.append(&mut self.pending);
            return Ok(true);
        }
        loop {
            let Some(response) = self.responses.message().await? else {
                return Ok(false);
            };
            if response.canceled {
                bail!("etcd canceled the watch: {}", response.cancel_reason);
            }
            if !response.events.is_empty() {
                out.extend(
                    response
                        .events
                        .iter()
                        .filter_map(|e| e.kv.as_ref().map(|kv| kv.mod_revision)),
                );
                return Ok(true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_covers_the_prefix() {
        assert_eq!(prefix_end(b"/registry/pods/"), b"/registry/pods0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff"), vec![0]);
    }
}
