//! The tutorial on a real node (root): `krust server` runs this host as a node, pods run as
//! real Linux containers from an image made offline and loaded with `krust image load`, and
//! the real kubectl reads their logs, execs into them and forwards ports to them. Each test's
//! cluster has its own node name, bridge and pod range (`Cluster::start_real_node`) and
//! removes its pods before it ends, so nothing is left on the host.

use krust_e2e::{Cluster, ROLLOUT_TIMEOUT, true_within};
use std::time::Duration;

mod real_node_support;
use real_node_support::{IMAGE, cluster};

/// Deletes every pod and waits until they are gone (the node stops and removes them).
fn remove_pods(c: &Cluster) {
    c.ok(&["delete", "pods", "--all", "--grace-period=1", "--wait=true"]);
}

fn running(c: &Cluster, pod: &str) -> bool {
    true_within(ROLLOUT_TIMEOUT, || {
        c.jsonpath(&["pod", pod], "{.status.phase}") == "Running"
    })
}

#[test]
fn a_pod_runs_a_real_container_whose_logs_and_exec_work() {
    let c = cluster();
    c.ok(&[
        "run",
        "hello",
        &format!("--image={IMAGE}"),
        "--image-pull-policy=IfNotPresent",
        "--",
        "sh",
        "-c",
        "echo hello from $(hostname); sleep 3600",
    ]);
    assert!(
        running(&c, "hello"),
        "{}",
        c.ok(&["describe", "pod", "hello"])
    );
    let ip = c.jsonpath(&["pod", "hello"], "{.status.podIP}");
    let range = c.jsonpath(&["node", &c.node_name()], "{.spec.podCIDR}");
    let prefix = range.rsplit_once('.').expect("a v4 range").0;
    assert!(ip.starts_with(prefix), "pod IP {ip} is not in {range}");
    assert!(true_within(Duration::from_secs(10), || c
        .kubectl(&["logs", "hello"])
        .stdout
        .contains("hello from hello")));
    assert_eq!(
        c.ok(&["exec", "hello", "--", "cat", "/etc/hostname"])
            .trim(),
        "hello"
    );
    let failed = c.kubectl(&["exec", "hello", "--", "sh", "-c", "exit 3"]);
    assert_eq!(failed.status.code(), Some(3), "{}", failed.stderr);
    // The container sees its own processes only.
    let ps = c.ok(&["exec", "hello", "--", "ps", "-o", "pid,comm"]);
    assert!(ps.lines().count() <= 4, "{ps}");
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=hello",
    ]);
    for reason in ["Scheduled", "Pulled", "Created", "Started"] {
        assert!(events.contains(reason), "no {reason} event: {events}");
    }
    remove_pods(&c);
}

#[test]
fn a_container_that_exits_completes_or_crash_loops_as_its_restart_policy_says() {
    let c = cluster();
    let image = format!("--image={IMAGE}");
    c.ok(&[
        "run",
        "once",
        &image,
        "--restart=Never",
        "--",
        "sh",
        "-c",
        "echo done",
    ]);
    c.ok(&[
        "run",
        "fails",
        &image,
        "--restart=Never",
        "--",
        "sh",
        "-c",
        "exit 2",
    ]);
    c.ok(&["run", "loops", &image, "--", "sh", "-c", "exit 1"]);
    assert!(true_within(ROLLOUT_TIMEOUT, || c
        .jsonpath(&["pod", "once"], "{.status.phase}")
        == "Succeeded"));
    let reason = c.jsonpath(
        &["pod", "once"],
        "{.status.containerStatuses[0].state.terminated.reason}",
    );
    assert_eq!(reason, "Completed");
    assert!(true_within(ROLLOUT_TIMEOUT, || c
        .jsonpath(&["pod", "fails"], "{.status.phase}")
        == "Failed"));
    let code = c.jsonpath(
        &["pod", "fails"],
        "{.status.containerStatuses[0].state.terminated.exitCode}",
    );
    assert_eq!(code, "2");
    assert!(
        true_within(ROLLOUT_TIMEOUT, || c.jsonpath(
            &["pod", "loops"],
            "{.status.containerStatuses[0].state.waiting.reason}"
        ) == "CrashLoopBackOff"),
        "{}",
        c.ok(&["get", "pod", "loops", "-o", "yaml"])
    );
    let restarts: u32 = c
        .jsonpath(
            &["pod", "loops"],
            "{.status.containerStatuses[0].restartCount}",
        )
        .parse()
        .expect("a count");
    assert!(restarts >= 1);
    remove_pods(&c);
}

#[test]
fn an_image_that_is_not_there_shows_err_image_never_pull() {
    let c = cluster();
    c.ok(&[
        "run",
        "missing",
        "--image=krust.test/nothing:1",
        "--image-pull-policy=Never",
    ]);
    assert!(true_within(ROLLOUT_TIMEOUT, || c.jsonpath(
        &["pod", "missing"],
        "{.status.containerStatuses[0].state.waiting.reason}"
    ) == "ErrImageNeverPull"));
    remove_pods(&c);
}
