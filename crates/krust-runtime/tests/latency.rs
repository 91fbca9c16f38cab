//! How long a container takes from `create_container` to its exit being seen: printed (run
//! with `--no-capture`), not asserted, since this machine's speed drifts.

mod support;

use std::time::{Duration, Instant};

use support::Fixture;

#[tokio::test]
async fn start_to_exit_of_true_with_a_memory_limit_is_measured() {
    let f = Fixture::new();
    let sandbox = f.sandbox("latency").await;
    let mut spec = f.container(&sandbox, "true", &["true"]);
    spec.resources.memory_limit = Some(64 << 20);
    let runs = 30;
    let (mut create, mut start, mut exit, mut total) = (vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        let mut exits = f.runtime.exits();
        let t0 = Instant::now();
        let id = f.runtime.create_container(&spec).await.unwrap();
        let t1 = Instant::now();
        f.runtime.start_container(&id).await.unwrap();
        let t2 = Instant::now();
        loop {
            let seen = tokio::time::timeout(Duration::from_secs(10), exits.recv()).await;
            if seen.unwrap().unwrap() == id {
                break;
            }
        }
        let t3 = Instant::now();
        create.push(t1 - t0);
        start.push(t2 - t1);
        exit.push(t3 - t2);
        total.push(t3 - t0);
        if std::env::var_os("KRT_MONITOR_LOG").is_some() {
            let _ = std::fs::copy(
                f.config
                    .root
                    .join("containers")
                    .join(&id)
                    .join("bundle/config.json"),
                "/tmp/krt-try/ours.json",
            );
        }
        if std::env::var_os("KRT_MONITOR_LOG").is_some() {
            eprint!(
                "{}",
                std::fs::read_to_string(
                    f.config
                        .root
                        .join("containers")
                        .join(&id)
                        .join("monitor.log")
                )
                .unwrap_or_default()
            );
        }
        f.runtime.remove_container(&id).await.unwrap();
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    eprintln!(
        "start→exit of /bin/true, 64 MiB limit, median of {runs}: total {:?} (create {:?}, start {:?}, exit seen {:?})",
        median(&mut total),
        median(&mut create),
        median(&mut start),
        median(&mut exit),
    );
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}
