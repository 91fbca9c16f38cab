//! `attach`: a running container's stdin and output, with and without a terminal.

mod support;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use support::Fixture;

/// Reads until `want` was seen (or the stream ended); what was read.
async fn read_until(reader: &mut (impl AsyncReadExt + Unpin), want: &str) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&seen).contains(want) {
        let read = tokio::time::timeout_at(deadline, reader.read(&mut buf)).await;
        match read.expect("timed out reading") {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test]
async fn attaching_to_a_stdin_once_container_feeds_it_until_the_client_ends() {
    let f = Fixture::new();
    let sandbox = f.sandbox("attach").await;
    let mut spec = f.container(&sandbox, "main", &["sh", "-c", "cat; echo done >&2"]);
    spec.stdin = true;
    spec.stdin_once = true;
    let id = f.run(&spec).await;
    let mut attached = f.runtime.attach(&id, true).await.unwrap();
    let mut stdin = attached.stdin.take().unwrap();
    stdin.write_all(b"hello\n").await.unwrap();
    let mut stdout = attached.stdout.take().unwrap();
    assert!(read_until(&mut stdout, "hello\n").await.contains("hello\n"));
    drop(stdin); // the client's input ends: with stdinOnce, so does the container's
    let mut stderr = attached.stderr.take().unwrap();
    assert!(read_until(&mut stderr, "done").await.contains("done"));
    assert_eq!(attached.exit.await, 0);
    assert!(
        f.log(&spec).contains(" stdout F hello\n"),
        "{}",
        f.log(&spec)
    );
    assert!(
        f.runtime.attach(&id, false).await.is_err(),
        "attached to an exited container"
    );
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}

#[tokio::test]
async fn attaching_to_a_tty_container_drives_its_shell() {
    let f = Fixture::new();
    let sandbox = f.sandbox("attachtty").await;
    let mut spec = f.container(&sandbox, "main", &["sh"]);
    (spec.stdin, spec.tty) = (true, true);
    let id = f.run(&spec).await;
    let mut attached = f.runtime.attach(&id, true).await.unwrap();
    assert!(attached.stderr.is_none());
    attached
        .resize
        .as_ref()
        .unwrap()
        .send((120, 30))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut stdin = attached.stdin.take().unwrap();
    stdin.write_all(b"stty size; exit 3\n").await.unwrap();
    let mut stdout = attached.stdout.take().unwrap();
    let seen = read_until(&mut stdout, "30 120").await;
    assert!(seen.contains("30 120"), "{seen:?}");
    assert_eq!(attached.exit.await, 3);
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}
