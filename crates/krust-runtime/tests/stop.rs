//! Stopping containers: the stop signal, then SIGKILL after the grace period.

mod support;

use std::time::{Duration, Instant};

use support::Fixture;

#[tokio::test]
async fn a_container_that_ignores_the_stop_signal_is_killed_after_the_grace_period() {
    let f = Fixture::new();
    let sandbox = f.sandbox("stubborn").await;
    // A pid 1 without a handler never gets SIGTERM.
    let spec = f.container(&sandbox, "main", &["sleep", "1000"]);
    let id = f.run(&spec).await;
    let start = Instant::now();
    f.runtime
        .stop_container(&id, Duration::from_millis(500))
        .await
        .unwrap();
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(500), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(f.exit_code(&id).await, 137);
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}

#[tokio::test]
async fn a_container_handling_its_stop_signal_exits_with_its_own_code() {
    let f = Fixture::new();
    let sandbox = f.sandbox("polite").await;
    let script = "trap 'exit 42' QUIT; echo ready; while true; do sleep 0.05; done";
    let mut spec = f.container(&sandbox, "main", &["sh", "-c", script]);
    spec.stop_signal = Some("SIGQUIT".into());
    let id = f.run(&spec).await;
    while !f.log(&spec).contains("ready") {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let start = Instant::now();
    f.runtime
        .stop_container(&id, Duration::from_secs(20))
        .await
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(f.exit_code(&id).await, 42);
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}
