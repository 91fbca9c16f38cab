//! Leader election through a Lease against an in-process API server: two candidates never
//! work at once, whether the leader crashes, finishes, loses its Lease to another writer, or
//! is cut off from the server.

use k8s_openapi::api::coordination::v1::Lease;
use krust_component::leader::{Config, lead_with};
use kube::Client;
use kube::api::{Api, PostParams};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

fn config() -> Config {
    Config {
        namespace: "kube-system".into(),
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1200),
        retry_period: Duration::from_millis(200),
    }
}

/// Who works, and the most that ever worked at once.
#[derive(Default)]
struct Board {
    active: AtomicUsize,
    max: AtomicUsize,
    started: Mutex<Vec<String>>,
    active_ids: Mutex<Vec<String>>,
}

struct Working(Arc<Board>, String);

impl Drop for Working {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
        self.0.active_ids.lock().unwrap().retain(|i| *i != self.1);
    }
}

impl Board {
    fn leaders(&self) -> Vec<String> {
        self.active_ids.lock().unwrap().clone()
    }
    fn started(&self) -> Vec<String> {
        self.started.lock().unwrap().clone()
    }
    fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

/// A candidate whose work runs until cancelled (or for `work_for`, then returns Ok).
fn candidate(
    client: Client,
    id: &str,
    board: Arc<Board>,
    work_for: Option<Duration>,
) -> JoinHandle<anyhow::Result<()>> {
    let id = id.to_string();
    tokio::spawn(async move {
        let cfg = config();
        let ident = id.clone();
        lead_with(
            client,
            "test-lease",
            id,
            &cfg,
            std::future::pending(),
            || {
                let board = board.clone();
                let ident = ident.clone();
                async move {
                    let now = board.active.fetch_add(1, Ordering::SeqCst) + 1;
                    board.max.fetch_max(now, Ordering::SeqCst);
                    board.started.lock().unwrap().push(ident.clone());
                    board.active_ids.lock().unwrap().push(ident.clone());
                    let _guard = Working(board.clone(), ident);
                    match work_for {
                        Some(d) => tokio::time::sleep(d).await,
                        None => std::future::pending().await,
                    }
                    Ok(())
                }
            },
        )
        .await
    })
}

/// Waits up to `timeout` until `ok` holds.
async fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    krust_testkit::eventually(timeout, what, || std::future::ready(ok().then_some(()))).await
}

async fn holder(client: &Client) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-system");
    leases.get("test-lease").await.ok()?.spec?.holder_identity
}

#[tokio::test]
async fn one_leader_at_a_time_and_takeover_after_a_crash() {
    let srv = krust_testkit::start().await;
    let board = Arc::new(Board::default());
    let a = candidate(srv.client.clone(), "a", board.clone(), None);
    let b = candidate(srv.client.clone(), "b", board.clone(), None);
    wait_for("a leader", Duration::from_secs(10), || {
        board.leaders().len() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        board.started().len(),
        1,
        "leadership stayed put: {:?}",
        board.started()
    );
    let first = board.leaders()[0].clone();
    assert_eq!(holder(&srv.client).await.as_deref(), Some(first.as_str()));

    // The leader dies without releasing: the other takes over once the Lease expires.
    let (dead, survivor, other) = if first == "a" {
        (a, b, "b")
    } else {
        (b, a, "a")
    };
    dead.abort();
    let _ = dead.await;
    wait_for("the takeover", Duration::from_secs(10), || {
        board.leaders() == [other]
    })
    .await;
    assert_eq!(board.max(), 1);
    assert_eq!(holder(&srv.client).await.as_deref(), Some(other));
    let leases: Api<Lease> = Api::namespaced(srv.client.clone(), "kube-system");
    let lease = leases.get("test-lease").await.unwrap().spec.unwrap();
    assert_eq!(lease.lease_transitions, Some(1));
    assert_eq!(lease.lease_duration_seconds, Some(2));
    survivor.abort();
}

#[tokio::test]
async fn finishing_work_releases_the_lease() {
    let srv = krust_testkit::start().await;
    let board = Arc::new(Board::default());
    let a = candidate(
        srv.client.clone(),
        "a",
        board.clone(),
        Some(Duration::from_millis(300)),
    );
    wait_for("a to lead", Duration::from_secs(10), || {
        board.started() == ["a"]
    })
    .await;
    let b = candidate(srv.client.clone(), "b", board.clone(), None);
    a.await.unwrap().unwrap();
    // Released, not expired: b takes it within a retry or two, well before 2 s.
    let released = tokio::time::Instant::now();
    wait_for("b to lead", Duration::from_secs(10), || {
        board.leaders() == ["b"]
    })
    .await;
    assert!(
        released.elapsed() < Duration::from_millis(1500),
        "{:?}",
        released.elapsed()
    );
    assert_eq!(board.max(), 1);
    b.abort();
}

#[tokio::test]
async fn a_stopped_leader_releases_the_lease_at_once() {
    let srv = krust_testkit::start().await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worked = Arc::new(AtomicUsize::new(0));
    let a = {
        let (client, worked) = (srv.client.clone(), worked.clone());
        tokio::spawn(async move {
            let stopped = async {
                let _ = stopped.await;
            };
            lead_with(client, "test-lease", "a".into(), &config(), stopped, || {
                worked.fetch_add(1, Ordering::SeqCst);
                std::future::pending()
            })
            .await
        })
    };
    wait_for("a to lead", Duration::from_secs(10), || {
        worked.load(Ordering::SeqCst) == 1
    })
    .await;
    stop.send(()).unwrap();
    a.await.unwrap().unwrap();
    assert_eq!(holder(&srv.client).await, None);
    // Another candidate takes it within a retry or two, well before the 2 s expiry.
    let board = Arc::new(Board::default());
    let released = tokio::time::Instant::now();
    let b = candidate(srv.client.clone(), "b", board.clone(), None);
    wait_for("b to lead", Duration::from_secs(10), || {
        board.leaders() == ["b"]
    })
    .await;
    assert!(
        released.elapsed() < Duration::from_millis(1500),
        "{:?}",
        released.elapsed()
    );
    b.abort();
}

#[tokio::test]
async fn a_leader_that_loses_its_lease_stops_working() {
    let srv = krust_testkit::start().await;
    let board = Arc::new(Board::default());
    let a = candidate(srv.client.clone(), "a", board.clone(), None);
    wait_for("a to lead", Duration::from_secs(10), || {
        board.leaders() == ["a"]
    })
    .await;
    // Another writer takes the Lease over.
    let leases: Api<Lease> = Api::namespaced(srv.client.clone(), "kube-system");
    let mut lease = leases.get("test-lease").await.unwrap();
    lease.spec.as_mut().unwrap().holder_identity = Some("intruder".into());
    leases
        .replace("test-lease", &PostParams::default(), &lease)
        .await
        .unwrap();
    wait_for("a to stop", Duration::from_secs(2), || {
        board.leaders().is_empty()
    })
    .await;
    // And a campaigns again: it gets the Lease back once the intruder's expires.
    wait_for("a to lead again", Duration::from_secs(10), || {
        board.leaders() == ["a"]
    })
    .await;
    assert_eq!(board.started(), ["a", "a"]);
    a.abort();
}

/// A TCP proxy that can be cut, to partition one candidate from the server.
struct Proxy {
    addr: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let conns = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let conn = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns.lock().unwrap().push(conn);
            }
        });
        tasks.lock().unwrap().push(accept);
        Self { addr, tasks }
    }

    fn cut(&self) {
        self.tasks.lock().unwrap().iter().for_each(|t| t.abort());
    }
}

#[tokio::test]
async fn a_partitioned_leader_stops_before_another_takes_over() {
    let srv = krust_testkit::start().await;
    let proxy = Proxy::start(srv.running.addr).await;
    let kubeconfig = std::fs::read_to_string(&srv.running.kubeconfig).unwrap();
    let proxied = kubeconfig.replace(&srv.running.url, &format!("https://{}", proxy.addr));
    assert_ne!(proxied, kubeconfig);
    let path = srv.dir.path().join("proxied-kubeconfig");
    std::fs::write(&path, proxied).unwrap();
    let cut_off = krust_component::client::from_kubeconfig(&path)
        .await
        .unwrap();

    let board = Arc::new(Board::default());
    let a = candidate(cut_off, "a", board.clone(), None);
    wait_for("a to lead", Duration::from_secs(10), || {
        board.leaders() == ["a"]
    })
    .await;
    let b = candidate(srv.client.clone(), "b", board.clone(), None);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(board.leaders(), ["a"]);

    proxy.cut();
    wait_for("b to take over", Duration::from_secs(10), || {
        board.started() == ["a", "b"]
    })
    .await;
    assert_eq!(board.max(), 1, "a stopped before b started");
    assert_eq!(board.leaders(), ["b"]);
    a.abort();
    b.abort();
}
