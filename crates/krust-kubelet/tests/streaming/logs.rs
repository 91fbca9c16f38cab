//! `kubectl logs`: the CRI log file as text, with its options.

use crate::cluster::*;
use std::process::Stdio;
use tokio::io::AsyncBufReadExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_reads_the_cri_log_with_tail_timestamps_and_previous() {
    let c = Cluster::start().await;
    assert_eq!(
        ok(c.run(&["logs", POD], None).await),
        "line one\nline two\nline three\n"
    );
    assert_eq!(ok(c.run(&["logs", POD, "--tail=1"], None).await), "ree\n");
    assert_eq!(
        ok(c.run(&["logs", POD, "--tail=2", "--timestamps"], None)
            .await),
        "2026-12-06T11:22:35.000000000Z line th2026-12-06T11:22:35.500000000Z ree\n"
    );
    assert_eq!(
        ok(c.run(&["logs", POD, "--previous"], None).await),
        "from the first attempt\n"
    );
    assert_eq!(
        ok(c.run(&["logs", POD, "--limit-bytes=4"], None).await),
        "line"
    );
    assert_eq!(
        ok(
            c.run(&["logs", POD, "--since-time=2026-12-06T11:22:34Z"], None)
                .await
        ),
        "line two\nline three\n"
    );
    let (code, _, err) = c.run(&["logs", POD, "-c", "nope"], None).await;
    assert_ne!(code, 0);
    assert!(
        err.contains("container nope is not valid for pod web"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_follow_streams_lines_appended_later() {
    let c = Cluster::start().await;
    let mut child = c
        .kubectl(&["logs", "-f", "--tail=1", POD])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let next = async |lines: &mut tokio::io::Lines<_>| {
        tokio::time::timeout(KUBECTL_TIMEOUT, lines.next_line())
            .await
            .expect("a line in time")
            .unwrap()
            .unwrap()
    };
    assert_eq!(next(&mut lines).await, "ree");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(c.logs.path().join("1.log"))
        .unwrap();
    use std::io::Write;
    f.write_all(b"2026-12-06T11:22:40Z stdout F appended\n")
        .unwrap();
    assert_eq!(next(&mut lines).await, "appended");
    child.kill().await.unwrap();
}
