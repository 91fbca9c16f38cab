//! Containers end to end, as root: output, exit codes, CRI logs, start failures.

mod support;

use krust_runtime::{ContainerState, Error};
use support::Fixture;

#[tokio::test]
async fn a_container_that_exits_reports_its_code_and_output() {
    let f = Fixture::new();
    let sandbox = f.sandbox("exit").await;
    let spec = f.container(&sandbox, "main", &["sh", "-c", "echo hello; exit 3"]);
    let id = f.run(&spec).await;
    assert_eq!(id.len(), 64);
    assert_eq!(f.exit_code(&id).await, 3);
    let log = f.log(&spec);
    assert!(log.contains(" stdout F hello\n"), "{log}");
    let status = f.runtime.container_status(&id).await.unwrap();
    assert_eq!(status.name, "main");
    assert_eq!(status.sandbox_id, sandbox.id);
    let ContainerState::Exited { reason, started_at, .. } = status.state else { panic!() };
    assert_eq!(reason, None);
    assert!(started_at.is_some());
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}
