//! The dashboard's first meaningful paint (issue 12: the overview in under 300 ms on a local
//! cluster): a started profile running a Deployment `web`, `krust dashboard --url`, then page
//! loads, each in a fresh headless Chromium (nothing cached), timed from the navigation's
//! start to the animation frame that paints the overview with the node and the Deployment.
//! The reference, in the same run and the same browser: a static page of one table served
//! from loopback, timed alike (the browser's own share of a paint). Then live updates: a
//! scale through the dashboard's API timed until the overview shows it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::apps::v1::Deployment;
use krust_e2e::cdp::{Browser, overview_shows};
use kube::Api;
use kube::api::PostParams;

/// How long a page may take before the round counts as failed.
const PAGE_BOUND: Duration = Duration::from_secs(20);

/// The Deployment the overview must show, one replica of `image`.
pub async fn deploy_web(client: &kube::Client, image: &str, bound: Duration) -> Result<()> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let web: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "web", "image": image, "command": ["sleep", "3600"]}]
                }
            }
        }
    }))?;
    api.create(&PostParams::default(), &web).await?;
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        let ready = api.get("web").await?.status.and_then(|s| s.ready_replicas);
        if ready == Some(1) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("the Deployment web was not ready within {bound:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `krust dashboard --url --port 0` of a profile, killed when dropped.
pub struct Dashboard {
    child: Child,
    pub url: String,
}

impl Dashboard {
    /// Starts `command` (`krust dashboard --url --port 0 -p PROFILE`) and reads its URL.
    pub fn spawn(mut command: Command) -> Result<Dashboard> {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("krust dashboard")?;
        // Read through a borrow: the pipe stays open with the child, whatever it prints later.
        let stdout = child.stdout.as_mut().context("stdout")?;
        let mut url = String::new();
        BufReader::new(stdout).read_line(&mut url)?;
        let url = url.trim().to_string();
        if !url.starts_with("http://") {
            let _ = child.kill();
            bail!("krust dashboard printed {url:?}, not a URL");
        }
        Ok(Dashboard { child, url })
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `rounds` paints of the overview at `url` (node `node`, Deployment `web`), then as many
/// of the static reference page; each in a fresh browser. Milliseconds.
pub fn paints(url: &str, node: &str, rounds: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    let reference = StaticPage::serve(node)?;
    let mut overview = vec![];
    let mut static_page = vec![];
    for _ in 0..rounds {
        let mut browser = Browser::start(1280, 800);
        let at = browser.paint_time(url, &overview_shows(node, "web"), PAGE_BOUND);
        overview.push(
            at.with_context(|| format!("the overview at {url} never showed {node} and web"))?,
        );
        let mut browser = Browser::start(1280, 800);
        let at = browser.paint_time(
            &reference.url,
            "document.querySelector('#nodes td')",
            PAGE_BOUND,
        );
        static_page.push(at.context("the static page never painted")?);
    }
    Ok((overview, static_page))
}

/// `rounds` live updates: with the overview open, the Deployment `web` scaled to one more
/// replica through the dashboard's own API proxy, timed from just before the request to
/// the frame showing the new count (`ready/replicas`). Milliseconds.
pub fn live_updates(url: &str, node: &str, rounds: usize) -> Result<Vec<f64>> {
    let mut browser = Browser::start(1280, 800);
    browser
        .paint_time(url, &overview_shows(node, "web"), PAGE_BOUND)
        .context("the overview never showed")?;
    let address = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut took = vec![];
    for replicas in 2..rounds + 2 {
        browser.watch_for(&format!(
            "document.querySelector('#deployments tr[data-name=web]')?.textContent.includes('/{replicas}')"
        ));
        let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
        scale(&address, replicas)?;
        let seen = browser
            .seen(PAGE_BOUND)
            .with_context(|| format!("the overview never showed {replicas} replicas"))?;
        took.push(seen - before.as_secs_f64() * 1000.0);
    }
    Ok(took)
}

/// `kubectl scale deployment web --replicas N`, through the dashboard's API proxy at
/// `address` (plain HTTP on loopback, the admin's credentials added by the proxy).
fn scale(address: &str, replicas: usize) -> Result<()> {
    let body = format!(r#"{{"spec":{{"replicas":{replicas}}}}}"#);
    let mut stream = std::net::TcpStream::connect(address)?;
    write!(
        stream,
        "PATCH /apis/apps/v1/namespaces/default/deployments/web/scale HTTP/1.1\r\n\
         Host: {address}\r\ncontent-type: application/merge-patch+json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    if !answer.starts_with("HTTP/1.1 200") {
        bail!("scaling web: {}", answer.lines().next().unwrap_or_default());
    }
    Ok(())
}

/// A page of one table naming the node, served from loopback by a thread until the process
/// ends (one request at a time, as a browser's first load asks for it and a favicon).
struct StaticPage {
    url: String,
}

impl StaticPage {
    fn serve(node: &str) -> Result<StaticPage> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}/", listener.local_addr()?);
        let body = format!(
            "<!doctype html><html><head><title>nodes</title></head><body>\
             <table id=nodes><tr><th>Name</th><th>Status</th></tr>\
             <tr><td>{node}</td><td>Ready</td></tr></table></body></html>"
        );
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut stream = stream;
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        Ok(StaticPage { url })
    }
}
