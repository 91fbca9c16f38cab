//! `kubectl exec` and `kubectl attach`: output, stdin, exit codes, terminals, SPDY.

use crate::cluster::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_exec_returns_output_and_the_exit_code() {
    let c = Cluster::start().await;
    assert_eq!(
        ok(c.run(
            &["exec", POD, "--", "sh", "-c", "echo out; echo err >&2"],
            None
        )
        .await),
        "out\n"
    );
    let (code, _, err) = c
        .run(&["exec", POD, "--", "sh", "-c", "exit 3"], None)
        .await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("command terminated with exit code 3"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_exec_with_a_terminal_sends_its_size() {
    let c = Cluster::start().await;
    // `script` gives kubectl a terminal of 100x30.
    let kubectl = format!(
        "stty cols 100 rows 30; kubectl --kubeconfig {} --cache-dir {} exec -it {POD} -- sh -c 'sleep 0.5; echo in a tty'",
        c.server.running.kubeconfig.display(),
        c.cache.path().display()
    );
    let mut cmd = tokio::process::Command::new("script");
    cmd.args(["-qec", &kubectl, "/dev/null"]).kill_on_drop(true);
    let (code, out, err) = c.run_with(cmd, &["exec", "-it"], None).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("in a tty"), "{out}");
    assert!(
        c.resizes.lock().unwrap().contains(&(100, 30)),
        "{:?}",
        c.resizes.lock().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_exec_over_spdy_returns_output_stdin_and_the_exit_code() {
    let c = Cluster::start().await;
    assert_eq!(
        ok(c.run_spdy(
            &[
                "exec",
                "-i",
                POD,
                "--",
                "sh",
                "-c",
                "tr a-z A-Z; echo err >&2"
            ],
            Some(b"spdy\n")
        )
        .await),
        "SPDY\n"
    );
    let (code, _, err) = c
        .run_spdy(&["exec", POD, "--", "sh", "-c", "exit 4"], None)
        .await;
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("command terminated with exit code 4"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_exec_with_stdin_feeds_the_process() {
    let c = Cluster::start().await;
    assert_eq!(
        ok(c.run(
            &["exec", "-i", POD, "--", "sh", "-c", "tr a-z A-Z"],
            Some(b"hello stdin\n")
        )
        .await),
        "HELLO STDIN\n"
    );
    let big = vec![b'x'; 2 << 20];
    let out = ok(c
        .run(&["exec", "-i", POD, "--", "wc", "-c"], Some(&big))
        .await);
    assert_eq!(out.trim(), (2u32 << 20).to_string());
    let out = ok(c
        .run_spdy(&["exec", "-i", POD, "--", "wc", "-c"], Some(&big))
        .await);
    assert_eq!(out.trim(), (2u32 << 20).to_string());
    let out = ok(c
        .run(
            &["exec", POD, "--", "head", "-c", "3000000", "/dev/zero"],
            None,
        )
        .await);
    assert_eq!(out.len(), 3_000_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_attach_with_stdin_reaches_the_main_process() {
    let c = Cluster::start().await;
    let out = ok(c.run(&["attach", "-i", POD], Some(b"echoed\n")).await);
    assert!(out.contains("echoed"), "{out}");
}
