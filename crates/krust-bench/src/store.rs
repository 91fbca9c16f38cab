//! `krust-bench store`: write and watch throughput of krust's SQLite store against a real
//! etcd started for the run, at several writer concurrencies.
//!
//! Both sides do what an API server does: conditional writes of ~1 KiB Pod JSON under
//! `/registry/pods/...` (create if absent, else update comparing `mod_revision`), with
//! watchers on the prefix. krust is driven in-process through the `Store` trait (that is
//! how krust's API server uses it); etcd over gRPC on loopback (that is how kube-apiserver
//! uses it). Both fsync every commit. Ratios above 1 mean krust is faster.

mod backend;
mod run;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use krust_store::SqliteStore;

use crate::etcd::{EtcdClient, EtcdProcess};
use crate::spec::{Verdicts, target};
use backend::{Backend, Etcd, Krust};
use run::{Measured, Plan};

/// Options of `krust-bench store`.
#[derive(Clone, Debug, clap::Args)]
pub struct StoreArgs {
    /// Writes per run (one run per backend, writer count and watcher count).
    #[arg(long, default_value_t = 5000)]
    pub writes: usize,
    /// Concurrent writer counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    pub writers: Vec<usize>,
    /// Watcher counts to measure (each watches the run's whole prefix).
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    pub watchers: Vec<usize>,
    /// Objects each writer cycles through (its first write to each is a create).
    #[arg(long, default_value_t = 8)]
    pub objects_per_writer: usize,
    /// Seconds after which a run's writers stop starting writes.
    #[arg(long, default_value_t = 60)]
    pub max_seconds: u64,
    /// Share one etcd connection between all writers (as one kube-apiserver does) instead
    /// of one connection per writer and per watcher.
    #[arg(long)]
    pub etcd_shared_connection: bool,
}

/// One row of the report.
struct Row {
    writers: usize,
    watchers: usize,
    krust: Measured,
    etcd: Measured,
}

/// Runs the benchmark, prints its report and judges it against `SPECIFICATION.md`.
pub async fn run(args: StoreArgs) -> Result<Verdicts> {
    anyhow::ensure!(args.writes > 0, "--writes must be positive");
    anyhow::ensure!(
        args.writers.iter().all(|&w| w > 0),
        "--writers must be positive"
    );
    let etcd_process = EtcdProcess::start().await?;
    let connections = if args.etcd_shared_connection {
        1
    } else {
        args.writers.iter().copied().max().unwrap_or(1)
    };
    let mut clients = Vec::with_capacity(connections);
    for _ in 0..connections {
        clients.push(EtcdClient::connect(&etcd_process.url).await?);
    }
    let etcd: Arc<dyn Backend> = Arc::new(Etcd {
        url: etcd_process.url.clone(),
        clients,
    });
    let dir = tempfile::Builder::new()
        .prefix("krust-bench-store-")
        .tempdir()?;
    let path = dir.path().join("krust.db");
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path)).await??;
    let krust: Arc<dyn Backend> = Arc::new(Krust(store));

    print_header(&args, &etcd_process.version);
    let plan = |writers, watchers, prefix: String| Plan {
        prefix,
        writers,
        watchers,
        writes: args.writes,
        objects_per_writer: args.objects_per_writer,
        max_time: Duration::from_secs(args.max_seconds),
    };
    // Flush dirty pages first (say, from the build that just wrote this binary), so that
    // writeback does not slow the first runs' fsyncs.
    let _ = std::process::Command::new("sync").status();
    // Warm both up (connections, caches, first file growth) before measuring.
    let warmup = Plan {
        writes: 256,
        ..plan(8, 1, "/registry/pods/warmup/".into())
    };
    run::run(krust.clone(), &warmup)
        .await
        .context("krust warm-up")?;
    run::run(etcd.clone(), &warmup)
        .await
        .context("etcd warm-up")?;

    let mut rows = Vec::new();
    for &watchers in &args.watchers {
        for &writers in &args.writers {
            let prefix = format!("/registry/pods/bench-{writers}w-{watchers}r/");
            let plan = plan(writers, watchers, prefix);
            eprintln!("measuring: {writers} writers, {watchers} watchers");
            let krust = run::run(krust.clone(), &plan).await.context("krust run")?;
            let etcd = run::run(etcd.clone(), &plan).await.context("etcd run")?;
            rows.push(Row {
                writers,
                watchers,
                krust,
                etcd,
            });
        }
    }
    let verdicts = print_report(&rows, &args.writers);

    drop(krust);
    drop(etcd_process);
    Ok(verdicts)
}

fn print_header(args: &StoreArgs, etcd_version: &str) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("krust-bench store: krust SqliteStore vs {etcd_version} (started for this run)");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?");
    println!(
        "machine: {cores} cores, load average {load} at start (other work skews the ratios); \
         both stores in temp dirs on one filesystem"
    );
    println!(
        "workload: {} conditional writes per run, ~1 KiB Pod JSON, {} objects per writer \
         (create, then update comparing mod_revision); both fsync every commit",
        args.writes, args.objects_per_writer
    );
    println!(
        "krust: in-process Store trait, as krust's API server uses it; etcd: native gRPC over \
         loopback, as kube-apiserver uses it, {}",
        if args.etcd_shared_connection {
            "one HTTP/2 connection shared by all writers and watchers"
        } else {
            "one HTTP/2 connection per writer and per watcher (--etcd-shared-connection: one)"
        }
    );
    println!();
}

/// Prints the tables and judges the lowest ratios against `SPECIFICATION.md`.
fn print_report(rows: &[Row], writers: &[usize]) -> Verdicts {
    let (writes_target, watch_target) = (target("store.writes"), target("store.watch-events"));
    let (mut min_write, mut min_watch) = (f64::INFINITY, f64::INFINITY);
    println!(
        "{:>7} {:>8} | {:>10} {:>10} {:>7} | {:>11} {:>11} {:>7} | {:>8} | krust >= etcd",
        "writers",
        "watchers",
        "krust w/s",
        "etcd w/s",
        "ratio",
        "krust ev/s",
        "etcd ev/s",
        "ratio",
        "in order"
    );
    for row in rows {
        let (k, e) = (&row.krust, &row.etcd);
        let write_ratio = k.writes_per_sec() / e.writes_per_sec();
        let watch_ratio = k.events_per_sec() / e.events_per_sec();
        let met = writes_target.met_by(write_ratio) && watch_target.met_by(watch_ratio);
        min_write = min_write.min(write_ratio);
        min_watch = min_watch.min(watch_ratio);
        let order = match (k.in_order, e.in_order) {
            (true, true) => "yes",
            (false, true) => "NO krust",
            (true, false) => "NO etcd",
            (false, false) => "NO both",
        };
        println!(
            "{:>7} {:>8} | {:>10.0} {:>10.0} {:>6.2}x | {:>11.0} {:>11.0} {:>6.2}x | {:>8} | {}{}",
            row.writers,
            row.watchers,
            k.writes_per_sec(),
            e.writes_per_sec(),
            write_ratio,
            k.events_per_sec(),
            e.events_per_sec(),
            watch_ratio,
            order,
            if met { "yes" } else { "NO" },
            notes(k, e),
        );
    }
    println!();
    println!(
        "write latency and watch lag (ms; lag: last write acknowledged -> last watcher has it)"
    );
    println!(
        "{:>7} {:>8} | {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9} | {:>9}",
        "writers",
        "watchers",
        "krust p50",
        "krust p99",
        "krust lag",
        "etcd p50",
        "etcd p99",
        "etcd lag",
        "conflicts"
    );
    for row in rows {
        let (k, e) = (&row.krust, &row.etcd);
        println!(
            "{:>7} {:>8} | {:>9.2} {:>9.2} {:>9.2} | {:>9.2} {:>9.2} {:>9.2} | {:>9}",
            row.writers,
            row.watchers,
            k.latency_ms(0.5),
            k.latency_ms(0.99),
            k.watch_lag_ms(),
            e.latency_ms(0.5),
            e.latency_ms(0.99),
            e.watch_lag_ms(),
            format!("{}/{}", k.conflicts, e.conflicts),
        );
    }
    println!();
    let note = if writers == [1, 16, 64] {
        ""
    } else {
        " [the promise is for 1, 16 and 64 writers]"
    };
    let mut verdicts = Verdicts::default();
    let what = "krust ÷ etcd, writes/s, lowest level";
    verdicts.check("store.writes", what, min_write, !rows.is_empty(), note);
    let what = "krust ÷ etcd, watch events/s, lowest level";
    verdicts.check(
        "store.watch-events",
        what,
        min_watch,
        !rows.is_empty(),
        note,
    );
    verdicts
}

/// Caveats for a row: runs cut short by the time limit.
fn notes(krust: &Measured, etcd: &Measured) -> String {
    let mut notes = String::new();
    for (name, m) in [("krust", krust), ("etcd", etcd)] {
        if m.timed_out {
            notes.push_str(&format!(" ({name} timed out after {} writes)", m.writes));
        }
    }
    notes
}
