//! How long a container takes from `create_container` to its exit being seen, and where the
//! time goes: printed (run with `--no-capture`), not asserted, since this machine's speed
//! drifts with the load of its other users.

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
    let mut phases: [Vec<Duration>; 9] = Default::default();
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
        // The monitor's own account of the start: "monitor exec N us, setup N us, launch N
        // us, then N us".
        let log = f
            .config
            .root
            .join("containers")
            .join(&id)
            .join("monitor.log");
        let monitor = std::fs::read_to_string(log).unwrap();
        let line = monitor.lines().find(|l| l.starts_with("start: ")).unwrap();
        if std::env::var_os("KRT_DBG").is_some() {
            eprintln!("{monitor}");
        }
        let micros: Vec<u64> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect();
        let [exec, setup, launch, then] = micros[..4] else {
            panic!("{monitor}")
        };
        for (phase, value) in phases.iter_mut().zip([
            t3 - t0,
            t1 - t0,
            t2 - t1,
            Duration::from_micros(exec),
            Duration::from_micros(setup),
            Duration::from_micros(launch),
            Duration::from_micros(then),
            (t2 - t1).saturating_sub(Duration::from_micros(exec + setup + launch + then)),
            t3 - t2,
        ]) {
            phase.push(value);
        }
        f.runtime.remove_container(&id).await.unwrap();
    }
    let [total, create, start, exec, setup, launch, then, agent, exit] = phases.map(|mut v| {
        v.sort();
        v[v.len() / 2]
    });
    eprintln!(
        "start→exit of /bin/true, 64 MiB limit, medians of {runs}: total {total:?} = create \
         {create:?} + start {start:?} (monitor exec {exec:?}, its setup {setup:?}, the \
         container's launch {launch:?}, its reply {then:?}, the agent's own part {agent:?}) + exit seen {exit:?}"
    );
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}
