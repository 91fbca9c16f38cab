//! `exec` into a running container, with pipes and with a terminal.

mod support;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use support::Fixture;

#[tokio::test]
async fn exec_without_a_terminal_passes_stdin_and_reports_the_exit_code() {
    let f = Fixture::new();
    let sandbox = f.sandbox("exec").await;
    let id = f
        .run(&f.container(&sandbox, "main", &["sleep", "1000"]))
        .await;
    let args = vec!["sh".into(), "-c".into(), "cat; echo bad >&2; exit 5".into()];
    let mut exec = f.runtime.exec(&id, args, false, true).await.unwrap();
    let mut stdin = exec.stdin.take().unwrap();
    stdin.write_all(b"abc\n").await.unwrap();
    drop(stdin);
    let mut out = String::new();
    exec.stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .await
        .unwrap();
    let mut err = String::new();
    exec.stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .await
        .unwrap();
    assert_eq!(out, "abc\n");
    assert_eq!(err, "bad\n");
    assert_eq!(exec.exit.await, 5);
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}

#[tokio::test]
async fn exec_with_a_terminal_runs_an_interactive_shell() {
    let f = Fixture::new();
    let sandbox = f.sandbox("exectty").await;
    let id = f
        .run(&f.container(&sandbox, "main", &["sleep", "1000"]))
        .await;
    let mut exec = f
        .runtime
        .exec(&id, vec!["sh".into()], true, true)
        .await
        .unwrap();
    assert!(exec.stderr.is_none());
    exec.resize.as_ref().unwrap().send((100, 40)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut stdin = exec.stdin.take().unwrap();
    stdin.write_all(b"tty; stty size; exit 7\n").await.unwrap();
    let mut out = Vec::new();
    exec.stdout
        .take()
        .unwrap()
        .read_to_end(&mut out)
        .await
        .unwrap();
    let out = String::from_utf8_lossy(&out);
    assert!(out.contains("/dev/pts/"), "{out}");
    assert!(out.contains("40 100"), "{out}");
    assert_eq!(exec.exit.await, 7);
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}

#[tokio::test]
async fn exec_of_a_missing_command_fails_with_or_without_a_terminal() {
    let f = Fixture::new();
    let sandbox = f.sandbox("execmissing").await;
    let id = f
        .run(&f.container(&sandbox, "main", &["sleep", "1000"]))
        .await;
    let exec = f
        .runtime
        .exec(&id, vec!["no-such-command".into()], false, false)
        .await
        .unwrap();
    assert_ne!(exec.exit.await, 0);
    match f
        .runtime
        .exec(&id, vec!["no-such-command".into()], true, true)
        .await
    {
        Ok(exec) => assert_ne!(exec.exit.await, 0),
        Err(e) => assert!(e.to_string().contains("terminal"), "{e}"),
    }
    f.runtime.remove_sandbox(&sandbox.id).await.unwrap();
}
