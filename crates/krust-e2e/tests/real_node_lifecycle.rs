//! The pod lifecycle on a real node (root): probes (startup over TCP, readiness over HTTP by
//! a port's name, liveness by exec) and what their results do, postStart and preStop hooks,
//! init containers and sidecars with their order at start and at termination, graceful and
//! forced deletion, the kubelet's restart (`kill -9` of the server) that leaves containers
//! running, and a container over its memory limit. Images are busybox's, made offline.

use krust_e2e::{Cluster, ROLLOUT_TIMEOUT, true_within};
use std::time::Duration;

mod real_node_support;
use real_node_support::{IMAGE, cluster};

fn apply(c: &Cluster, name: &str, yaml: &str) {
    let file = c.write_file(&format!("{name}.yaml"), yaml.replace("IMAGE", IMAGE));
    c.ok(&["apply", "-f", file.to_str().expect("path")]);
}

fn events(c: &Cluster, pod: &str) -> String {
    c.ok(&[
        "get",
        "events",
        "--field-selector",
        &format!("involvedObject.name={pod}"),
        "-o",
        "custom-columns=REASON:.reason,MESSAGE:.message",
    ])
}

/// The STATUS column of `kubectl get pod`.
fn status(c: &Cluster, pod: &str) -> String {
    let out = c.kubectl(&["get", "pod", pod, "--no-headers"]).stdout;
    out.split_whitespace()
        .nth(2)
        .unwrap_or_default()
        .to_string()
}

fn within(c: &Cluster, pod: &str, what: &str, mut check: impl FnMut() -> bool) {
    assert!(
        true_within(ROLLOUT_TIMEOUT, &mut check),
        "{what}:\n{}\n{}",
        c.ok(&["get", "pod", pod, "-o", "yaml"]),
        events(c, pod)
    );
}

const PROBED: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: probed}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: IMAGE
    imagePullPolicy: Never
    command: [sh, -c, "mkdir -p /www && echo ok > /www/healthz && touch /tmp/alive && exec httpd -f -p 8080 -h /www"]
    ports: [{name: http, containerPort: 8080}]
    startupProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
    readinessProbe:
      httpGet: {path: /healthz, port: http, httpHeaders: [{name: X-Probe, value: krust}]}
      periodSeconds: 1
    livenessProbe: {exec: {command: [test, -f, /tmp/alive]}, periodSeconds: 1, failureThreshold: 2}
"#;

#[test]
fn probes_gate_readiness_and_restart_a_container_whose_liveness_fails() {
    let c = cluster();
    apply(&c, "probed", PROBED);
    let ready = |want: &str| {
        c.jsonpath(
            &["pod", "probed"],
            "{.status.conditions[?(@.type==\"Ready\")].status}",
        ) == want
            && c.jsonpath(&["pod", "probed"], "{.status.containerStatuses[0].ready}")
                == want.to_lowercase()
    };
    within(&c, "probed", "the pod never became ready", || ready("True"));
    assert_eq!(
        c.jsonpath(&["pod", "probed"], "{.status.containerStatuses[0].started}"),
        "true"
    );
    // Readiness follows the HTTP answer.
    c.ok(&["exec", "probed", "--", "rm", "/www/healthz"]);
    within(&c, "probed", "the pod stayed ready", || ready("False"));
    assert!(
        events(&c, "probed")
            .contains("Readiness probe failed: HTTP probe failed with statuscode: 404")
    );
    c.ok(&["exec", "probed", "--", "sh", "-c", "echo ok > /www/healthz"]);
    within(&c, "probed", "the pod never became ready again", || {
        ready("True")
    });
    let first = c.jsonpath(
        &["pod", "probed"],
        "{.status.containerStatuses[0].containerID}",
    );
    // A failed liveness probe kills the container, which restarts.
    c.ok(&["exec", "probed", "--", "rm", "/tmp/alive"]);
    within(&c, "probed", "the container was never restarted", || {
        c.jsonpath(
            &["pod", "probed"],
            "{.status.containerStatuses[0].restartCount}",
        ) == "1"
    });
    let second = c.jsonpath(
        &["pod", "probed"],
        "{.status.containerStatuses[0].containerID}",
    );
    assert_ne!(first, second);
    let events = events(&c, "probed");
    assert!(events.contains("Liveness probe failed"), "{events}");
    assert!(
        events.contains("Container web failed liveness probe, will be restarted"),
        "{events}"
    );
    within(&c, "probed", "the new container never became ready", || {
        ready("True")
    });
    // A forced deletion stops the container at once: its server goes away.
    let ip = c.jsonpath(&["pod", "probed"], "{.status.podIP}");
    let addr: std::net::SocketAddr = format!("{ip}:8080").parse().expect("pod address");
    let answers = || std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok();
    assert!(answers(), "the pod's server does not answer on {addr}");
    c.ok(&["delete", "pod", "probed", "--grace-period=0", "--force"]);
    assert!(true_within(ROLLOUT_TIMEOUT, || !answers()));
    assert!(true_within(ROLLOUT_TIMEOUT, || c
        .kubectl(&["get", "pod", "probed"])
        .stderr
        .contains("NotFound")));
}

const HOOKED: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: hooked}
spec:
  terminationGracePeriodSeconds: 5
  volumes: [{name: out, hostPath: {path: OUT, type: Directory}}]
  initContainers:
  - name: first
    image: IMAGE
    imagePullPolicy: Never
    command: [sh, -c, "sleep 2; echo init >> /out/log"]
    volumeMounts: [{name: out, mountPath: /out}]
  - name: helper
    image: IMAGE
    imagePullPolicy: Never
    restartPolicy: Always
    command: [sh, -c, "echo helper >> /out/log; trap 'echo helper-stopped >> /out/log; exit 0' TERM; while true; do sleep 1; done"]
    volumeMounts: [{name: out, mountPath: /out}]
  containers:
  - name: main
    image: IMAGE
    imagePullPolicy: Never
    command: [sh, -c, "echo main >> /out/log; trap 'echo main-stopped >> /out/log; exit 0' TERM; while true; do sleep 1; done"]
    volumeMounts: [{name: out, mountPath: /out}]
    lifecycle:
      postStart: {exec: {command: [sh, -c, "echo post-start >> /out/log"]}}
      preStop: {exec: {command: [sh, -c, "echo pre-stop >> /out/log"]}}
---
apiVersion: v1
kind: Pod
metadata: {name: badinit}
spec:
  restartPolicy: Never
  initContainers:
  - {name: setup, image: IMAGE, imagePullPolicy: Never, command: [sh, -c, "exit 1"]}
  containers:
  - {name: main, image: IMAGE, imagePullPolicy: Never, command: [sleep, "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: badhook}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: IMAGE
    imagePullPolicy: Never
    command: [sleep, "3600"]
    lifecycle:
      postStart: {exec: {command: [sh, -c, "exit 7"]}}
"#;

#[test]
fn hooks_init_containers_and_sidecars_run_in_order_and_stop_in_reverse() {
    let c = cluster();
    let out = c.data_dir().join("krt-hooks");
    std::fs::create_dir_all(&out).expect("out dir");
    apply(
        &c,
        "hooked",
        &HOOKED.replace("OUT", out.to_str().expect("path")),
    );
    // kubectl's STATUS column follows the init containers (the sidecar counts).
    within(&c, "hooked", "the pod was never seen initializing", || {
        status(&c, "hooked") == "Init:0/2"
    });
    within(&c, "hooked", "the pod never ran", || {
        c.jsonpath(&["pod", "hooked"], "{.status.phase}") == "Running"
            && c.jsonpath(&["pod", "hooked"], "{.status.containerStatuses[0].ready}") == "true"
    });
    let log = || std::fs::read_to_string(out.join("log")).unwrap_or_default();
    assert!(true_within(Duration::from_secs(10), || log().contains("post-start")));
    let started = log();
    assert!(started.starts_with("init\n"), "{started}");
    for line in ["helper", "main", "post-start"] {
        assert!(started.lines().any(|l| l == line), "{started}");
    }
    // A failing postStart hook kills its container.
    within(&c, "badhook", "the failed hook did not end the pod", || {
        c.jsonpath(&["pod", "badhook"], "{.status.phase}") == "Failed"
    });
    within(
        &c,
        "badinit",
        "the failed init container did not fail the pod",
        || c.jsonpath(&["pod", "badinit"], "{.status.phase}") == "Failed",
    );
    assert_eq!(status(&c, "badinit"), "Init:Error");
    assert_eq!(
        c.jsonpath(
            &["pod", "badinit"],
            "{.status.containerStatuses[0].state.waiting.reason}"
        ),
        "PodInitializing"
    );
    let events = events(&c, "badhook");
    assert!(events.contains("FailedPostStartHook"), "{events}");
    // Deletion: preStop, then the stop signal, main container before the sidecar;
    // kubectl returns once the pod is gone.
    c.ok(&["delete", "pod", "hooked", "--wait=true"]);
    let stopped: Vec<String> = log()
        .lines()
        .filter(|l| l.contains("stop"))
        .map(str::to_string)
        .collect();
    assert_eq!(
        stopped,
        ["pre-stop", "main-stopped", "helper-stopped"],
        "{}",
        log()
    );
    assert!(
        c.kubectl(&["get", "pod", "hooked"])
            .stderr
            .contains("NotFound")
    );
    c.ok(&["delete", "pod", "badinit"]);
    c.ok(&["delete", "pod", "badhook", "--grace-period=0", "--force"]);
    assert!(true_within(ROLLOUT_TIMEOUT, || c
        .kubectl(&["get", "pod", "badhook"])
        .stderr
        .contains("NotFound")));
}

#[test]
fn containers_keep_running_through_a_kill_9_of_the_server_and_memory_limits_hold() {
    let mut c = cluster();
    c.ok(&[
        "run",
        "steady",
        &format!("--image={IMAGE}"),
        "--image-pull-policy=Never",
        "--",
        "sh",
        "-c",
        "echo started; sleep 3600",
    ]);
    c.ok(&[
        "run",
        "brief",
        &format!("--image={IMAGE}"),
        "--image-pull-policy=Never",
        "--restart=Never",
        "--",
        "sh",
        "-c",
        "sleep 4; exit 3",
    ]);
    for pod in ["steady", "brief"] {
        within(&c, pod, "the pod never ran", || {
            c.jsonpath(&["pod", pod], "{.status.phase}") == "Running"
        });
    }
    let id = c.jsonpath(
        &["pod", "steady"],
        "{.status.containerStatuses[0].containerID}",
    );
    c.restart_after_kill9();
    within(
        &c,
        "brief",
        "the exit while the node was down was never reported",
        || c.jsonpath(&["pod", "brief"], "{.status.phase}") == "Failed",
    );
    assert_eq!(
        c.jsonpath(
            &["pod", "brief"],
            "{.status.containerStatuses[0].state.terminated.exitCode}"
        ),
        "3"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        c.jsonpath(
            &["pod", "steady"],
            "{.status.containerStatuses[0].containerID}"
        ),
        id
    );
    assert_eq!(
        c.jsonpath(
            &["pod", "steady"],
            "{.status.containerStatuses[0].restartCount}"
        ),
        "0"
    );
    assert_eq!(c.jsonpath(&["pod", "steady"], "{.status.phase}"), "Running");
    assert_eq!(c.ok(&["logs", "steady"]).matches("started").count(), 1);
    // Over its memory limit, a container is OOMKilled.
    apply(
        &c,
        "hungry",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: hungry}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: IMAGE
    imagePullPolicy: Never
    command: [sh, -c, "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived"]
    resources: {limits: {memory: 16Mi}}
"#,
    );
    within(&c, "hungry", "the hungry pod never ended", || {
        c.jsonpath(&["pod", "hungry"], "{.status.phase}") == "Failed"
    });
    let terminated = "{.status.containerStatuses[0].state.terminated";
    assert_eq!(
        c.jsonpath(&["pod", "hungry"], &format!("{terminated}.reason}}")),
        "OOMKilled"
    );
    assert_eq!(
        c.jsonpath(&["pod", "hungry"], &format!("{terminated}.exitCode}}")),
        "137"
    );
    c.ok(&["delete", "pods", "--all", "--grace-period=1", "--wait=true"]);
}
