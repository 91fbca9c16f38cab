//! The processes of a pod on a real node (root): `shareProcessNamespace: true` puts the
//! pod's containers in one PID namespace (each sees the others in `ps`), without it each
//! container has its own; an ephemeral container still running when its pod ends is killed
//! and reported terminated, as the kubelet's SyncTerminatingPod does.

mod real_node_support;

use krust_e2e::{ROLLOUT_TIMEOUT, true_within};
use real_node_support::*;

#[test]
fn containers_sharing_the_pods_process_namespace_see_each_other() {
    let c = cluster();
    let pod = |name: &str, share: bool| {
        format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  shareProcessNamespace: {share}
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: first, image: {IMAGE}, command: [sleep, "3602"]}}
  - {{name: second, image: {IMAGE}, command: [sleep, "3603"]}}
"#
        )
    };
    apply(
        &c,
        &format!("{}---\n{}", pod("shared", true), pod("apart", false)),
    );
    wait_running(&c, "shared");
    wait_running(&c, "apart");
    let ps = c.ok(&[
        "exec", "shared", "-c", "second", "--", "ps", "-o", "pid,args",
    ]);
    assert!(ps.contains("sleep 3602"), "{ps}");
    assert!(ps.contains("sleep 3603"), "{ps}");
    let ps = c.ok(&["exec", "shared", "-c", "first", "--", "ps", "-o", "args"]);
    assert!(ps.contains("sleep 3603"), "{ps}");
    let ps = c.ok(&["exec", "apart", "-c", "second", "--", "ps", "-o", "args"]);
    assert!(!ps.contains("sleep 3602"), "{ps}");
    assert!(ps.contains("sleep 3603"), "{ps}");
}

#[test]
fn an_ephemeral_container_still_running_when_its_pod_ends_is_killed() {
    let c = cluster();
    apply(
        &c,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: job}}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: {IMAGE}
    command: [sh, -c, "until [ -e /tmp/done ]; do sleep 0.2; done"]
"#
        ),
    );
    wait_running(&c, "job");
    c.ok(&[
        "debug",
        "job",
        &format!("--image={IMAGE}"),
        "-c",
        "dbg",
        "--",
        "sleep",
        "3604",
    ]);
    assert!(
        true_within(ROLLOUT_TIMEOUT, || !c
            .jsonpath(
                &["pod", "job"],
                "{.status.ephemeralContainerStatuses[0].state.running.startedAt}"
            )
            .is_empty()),
        "{}",
        c.ok(&["get", "pod", "job", "-o", "yaml"])
    );
    c.ok(&["exec", "job", "-c", "main", "--", "touch", "/tmp/done"]);
    wait_for(&c, "job", "{.status.phase}", "Succeeded");
    let terminated = "{.status.ephemeralContainerStatuses[0].state.terminated.exitCode}";
    wait_for(&c, "job", terminated, "137");
    assert!(
        event_within(&c, "job", &["Killing", "Stopping container dbg"]),
        "{}",
        events(&c, "job")
    );
    assert!(
        !std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .any(|cmdline| cmdline == b"sleep\x003604\x00"),
        "the ephemeral container's process still runs"
    );
}
