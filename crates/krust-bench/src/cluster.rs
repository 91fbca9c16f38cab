//! What the cluster benchmarks share: an in-process API server over a temporary store, clients
//! of it, the store revision, and the process's memory and CPU as `/proc` reports them (the
//! server, the control loops, the sim nodes and the benchmark's own clients are one process).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{ListParams, PostParams};

/// An API server on a free loopback port over a fresh store in a temporary directory.
/// Stops the server when dropped.
pub struct Cluster {
    pub running: krust_apiserver::Running,
    pub dir: tempfile::TempDir,
}

impl Cluster {
    pub async fn start(name: &str) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("krust-bench-{name}-"))
            .tempdir()?;
        let config = krust_apiserver::Config {
            data_dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse()?,
            service_cidr: "10.43.0.0/16".into(),
            node_ports: krust_apiserver::NODE_PORTS,
            service_account_admission: false,
        };
        let running = krust_apiserver::start(config)
            .await
            .context("starting the API server")?;
        Ok(Self { running, dir })
    }

    /// A new admin client over HTTPS (its own connection pool), as a user or a separate
    /// process would have.
    pub async fn client(&self) -> Result<kube::Client> {
        krust_component::client::from_kubeconfig(&self.running.kubeconfig).await
    }

    /// A client of a component running inside the server's process (scheduler, controllers,
    /// sim nodes), over the in-process transport as `krust server` connects them.
    pub fn component(&self, user: &str) -> kube::Client {
        kube::Client::new(self.running.local(user), "default")
    }

    /// The size of the store's files (database and write-ahead log), in bytes.
    pub fn store_bytes(&self) -> u64 {
        let db: PathBuf = self.dir.path().join("state.db");
        ["", "-wal", "-shm"]
            .iter()
            .filter_map(|suffix| {
                let mut path = db.clone().into_os_string();
                path.push(suffix);
                std::fs::metadata(path).ok()
            })
            .map(|m| m.len())
            .sum()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.running.task.abort();
    }
}

/// The store's current revision (the `resourceVersion` of a list).
pub async fn revision(client: &kube::Client) -> Result<u64> {
    let list = Api::<Namespace>::all(client.clone())
        .list_metadata(&ListParams::default().limit(1))
        .await?;
    let rv = list.metadata.resource_version.unwrap_or_default();
    rv.parse()
        .with_context(|| format!("list resourceVersion {rv:?} is not a revision"))
}

/// Creates namespace `name`.
pub async fn create_namespace(client: &kube::Client, name: &str) -> Result<()> {
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name},
    }))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    Ok(())
}

/// A `VmXXX:  1234 kB` line of `/proc/self/status`, in MiB.
fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The process's peak resident memory (`VmHWM`), MiB.
pub fn peak_rss_mib() -> f64 {
    status_mib("VmHWM")
}

/// The process's resident memory now (`VmRSS`), MiB.
pub fn rss_mib() -> f64 {
    status_mib("VmRSS")
}

/// The machine line of every report: cores and load average.
pub fn machine_line() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?").to_string();
    format!(
        "machine: {cores} cores, load average {load} at start (other work skews the numbers); \
         API server, store, control loops, sim nodes and the benchmark's clients share this one \
         process"
    )
}

/// The `USER_HZ` of `/proc/*/stat` times (100 on every Linux platform krust runs on).
const TICKS_PER_SEC: f64 = 100.0;

/// CPU time used so far: by the process (all threads, live and exited) and per thread name
/// (live threads only).
#[derive(Clone, Debug)]
pub struct Usage {
    at: Instant,
    process: f64,
    threads: BTreeMap<String, f64>,
}

/// utime + stime of a `/proc/.../stat` line, in seconds, and the command name.
fn stat_cpu(stat: &str) -> Option<(String, f64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_string();
    // Fields after the command: state is field 3; utime and stime are fields 14 and 15.
    let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let utime: f64 = rest.get(11)?.parse().ok()?;
    let stime: f64 = rest.get(12)?.parse().ok()?;
    Some((comm, (utime + stime) / TICKS_PER_SEC))
}

impl Usage {
    pub fn now() -> Self {
        let process = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|s| stat_cpu(&s))
            .map_or(0.0, |(_, cpu)| cpu);
        let mut threads = BTreeMap::new();
        if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
            for entry in dir.flatten() {
                let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
                if let Some((comm, cpu)) = stat_cpu(&stat) {
                    *threads.entry(comm).or_insert(0.0) += cpu;
                }
            }
        }
        Self {
            at: Instant::now(),
            process,
            threads,
        }
    }

    /// What was used since `earlier`, as one line: cores busy on average, and the threads
    /// that used the most.
    pub fn since(&self, earlier: &Usage) -> String {
        let wall = self.at.duration_since(earlier.at).as_secs_f64().max(1e-9);
        let cpu = self.process - earlier.process;
        let mut by_thread: Vec<(String, f64)> = self
            .threads
            .iter()
            .map(|(name, t)| {
                let before = earlier.threads.get(name).copied().unwrap_or(0.0);
                (name.clone(), t - before)
            })
            .filter(|(_, t)| *t > 0.0)
            .collect();
        by_thread.sort_by(|a, b| b.1.total_cmp(&a.1));
        let threads: Vec<String> = by_thread
            .iter()
            .take(3)
            .map(|(name, t)| format!("{name} {:.0}%", 100.0 * t / cpu.max(1e-9)))
            .collect();
        format!(
            "cpu {cpu:.1} s over {wall:.1} s = {:.2} cores busy ({})",
            cpu / wall,
            threads.join(", ")
        )
    }
}

/// The value at quantile `q` (0..=1) of sorted `values`, in milliseconds.
pub fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index].as_secs_f64() * 1e3
}

/// Seconds, for the report: `12.34 s`, or `-` when it never happened.
pub fn secs(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".into(), |d| format!("{:.2} s", d.as_secs_f64()))
}

/// The API server's request counters and latency sums (`/metrics`) at one moment.
#[derive(Clone, Debug, Default)]
pub struct Requests {
    /// (verb, resource, code) → requests.
    counts: HashMap<(String, String, String), f64>,
    /// (verb, resource) → seconds spent serving them.
    seconds: HashMap<(String, String), f64>,
}

/// `name{a="x",b="y"} 12.5` → (name, labels, value).
fn metric_line(line: &str) -> Option<(&str, HashMap<&str, &str>, f64)> {
    let (series, value) = line.rsplit_once(' ')?;
    let (name, labels) = series.split_once('{')?;
    let labels = labels
        .trim_end_matches('}')
        .split(',')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k, v.trim_matches('"')))
        })
        .collect();
    Some((name, labels, value.parse().ok()?))
}

impl Requests {
    pub async fn read(client: &kube::Client) -> Result<Self> {
        let request = http::Request::get("/metrics").body(Vec::new())?;
        let text = client.request_text(request).await.context("GET /metrics")?;
        let mut requests = Requests::default();
        for (name, labels, value) in text.lines().filter_map(metric_line) {
            let label = |k: &str| labels.get(k).copied().unwrap_or_default().to_string();
            match name {
                "apiserver_request_total" => {
                    requests
                        .counts
                        .insert((label("verb"), label("resource"), label("code")), value);
                }
                "apiserver_request_duration_seconds_sum" => {
                    requests
                        .seconds
                        .insert((label("verb"), label("resource")), value);
                }
                _ => {}
            }
        }
        Ok(requests)
    }

    /// What the server served since `earlier`: the `top` busiest (verb, resource) with their
    /// mean latency, then every answer that was not a success.
    pub fn since(&self, earlier: &Requests, top: usize) -> String {
        let mut by_kind: HashMap<(String, String), f64> = HashMap::new();
        let mut failures: Vec<(String, f64)> = Vec::new();
        for ((verb, resource, code), n) in &self.counts {
            let key = (verb.clone(), resource.clone(), code.clone());
            let n = n - earlier.counts.get(&key).copied().unwrap_or(0.0);
            if n <= 0.0 {
                continue;
            }
            *by_kind.entry((verb.clone(), resource.clone())).or_default() += n;
            if !code.starts_with('2') {
                failures.push((format!("{verb} {resource} {code}"), n));
            }
        }
        let total: f64 = by_kind.values().sum();
        let mut kinds: Vec<_> = by_kind.into_iter().collect();
        kinds.sort_by(|a, b| b.1.total_cmp(&a.1));
        let busiest: Vec<String> = kinds
            .iter()
            .take(top)
            .map(|((verb, resource), n)| {
                let key = (verb.clone(), resource.clone());
                let secs = self.seconds.get(&key).copied().unwrap_or(0.0)
                    - earlier.seconds.get(&key).copied().unwrap_or(0.0);
                if verb == "watch" {
                    format!("{verb} {resource} {n:.0}")
                } else {
                    format!("{verb} {resource} {n:.0} ({:.1} ms)", secs / n * 1e3)
                }
            })
            .collect();
        failures.sort_by(|a, b| b.1.total_cmp(&a.1));
        let failures: Vec<String> = failures
            .iter()
            .map(|(what, n)| format!("{what} x{n:.0}"))
            .collect();
        format!(
            "{total:.0} requests: {}{}",
            busiest.join(", "),
            if failures.is_empty() {
                String::new()
            } else {
                format!("; not 2xx: {}", failures.join(", "))
            }
        )
    }
}
