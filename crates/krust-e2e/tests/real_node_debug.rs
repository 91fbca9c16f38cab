//! `kubectl debug` on a real node (root): an ephemeral container added to a running pod
//! through `pods/ephemeralcontainers`, started once by the node in the pod's sandbox, in its
//! target's PID namespace with `--target`, attachable (`-it` under a terminal), with logs,
//! exec, attach, its status and Events, adopted by a restarted node, removed with the pod;
//! its image pulled from a loopback registry (or waiting with the pull error); invalid ones
//! refused with Kubernetes' messages; `--profile=general`; `--copy-to` making a copy of the
//! pod with a debug container; `debug node/NAME` (a pod in the host's namespaces).

mod real_node_support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use krust_e2e::{Background, Cluster, ROLLOUT_TIMEOUT, kubectl_bin, true_within};
use real_node_support::*;

/// A pod `web` whose container `app` runs a command that is easy to spot in `ps`.
fn web(c: &Cluster) {
    apply(
        c,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: web}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: {IMAGE}
    command: [sleep, "3601"]
"#
        ),
    );
    wait_running(c, "web");
}

/// Lines of `rx` until one contains `what` (or `timeout`); all lines read.
fn read_until(rx: &Receiver<String>, what: &str, timeout: Duration) -> (bool, Vec<String>) {
    let end = Instant::now() + timeout;
    let mut seen = Vec::new();
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                let found = line.contains(what);
                seen.push(line);
                if found {
                    return (true, seen);
                }
            }
            Err(_) => break,
        }
    }
    (false, seen)
}

/// A child killed when dropped (a failed assertion included).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether a process on this host has `needle` in its command line.
fn host_process_with(needle: &str) -> bool {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .any(|cmdline| {
            String::from_utf8_lossy(&cmdline)
                .replace('\0', " ")
                .contains(needle)
        })
}

#[test]
fn kubectl_debug_it_with_a_target_shares_its_processes() {
    let c = cluster();
    web(&c);
    // -it under `script`, so kubectl has a terminal; the shell is driven through it.
    let line = format!(
        "{} --kubeconfig {} debug -it web --image={IMAGE} --target=app -c debugger -- sh",
        kubectl_bin().display(),
        c.kubeconfig().display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("HOME", c.data_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script");
    let mut stdin = child.stdin.take().expect("stdin");
    let lines = Background::lines_of(child.stdout.take().expect("stdout"));
    let mut child = Killed(child);
    let (attached, before) =
        read_until(&lines, "If you don't see a command prompt", ROLLOUT_TIMEOUT);
    assert!(
        attached,
        "kubectl debug never attached: {before:?}\n{}",
        c.ok(&["get", "pod", "web", "-o", "yaml"])
    );
    // `$((40+2))` is 42 only once the shell ran it (the terminal echoes the typed text).
    let mut found = (false, Vec::new());
    for _ in 0..5 {
        stdin
            .write_all(b"ps -o pid,args; echo ps-done-$((40+2))\r")
            .expect("typing");
        found = read_until(&lines, "ps-done-42", Duration::from_secs(5));
        if found.0 {
            break;
        }
    }
    let (done, ps) = found;
    assert!(done, "the shell never ran ps: {before:?} {ps:?}");
    let ps = ps.join("\n");
    assert!(
        ps.lines()
            .any(|l| l.trim().starts_with("1 ") && l.contains("sleep 3601")),
        "the target's process is pid 1 of the shared namespace:\n{ps}"
    );
    stdin.write_all(b"exit\r").expect("exit");
    let exited = true_within(Duration::from_secs(30), || {
        matches!(child.0.try_wait(), Ok(Some(_)))
    });
    let _ = child.0.kill();
    let code = child.0.wait().expect("wait");
    assert!(
        exited && code.success(),
        "kubectl debug -it did not end well: {code}"
    );

    // The shell exited: the container is terminated, and never restarted.
    let status = "{.status.ephemeralContainerStatuses[0].state.terminated.reason}";
    wait_for(&c, "web", status, "Completed");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        c.jsonpath(
            &["pod", "web"],
            "{.status.ephemeralContainerStatuses[0].restartCount}"
        ),
        "0"
    );
    assert_eq!(
        c.jsonpath(
            &["pod", "web"],
            "{.spec.ephemeralContainers[0].targetContainerName}"
        ),
        "app"
    );
    remove_pods(&c);
}

#[test]
fn kubectl_debug_adds_a_container_with_logs_exec_attach_status_and_events() {
    let mut c = cluster();
    web(&c);
    let script = "echo dbg-says-hi; while true; do echo tick; sleep 1; done";
    let out = c.kubectl(&[
        "debug",
        "web",
        "-v=8",
        &format!("--image={IMAGE}"),
        "-c",
        "dbg",
        "--",
        "sh",
        "-c",
        script,
    ]);
    assert!(out.success(), "{}", out.stderr);
    // What kubectl 1.32 sends: a strategic merge patch of the subresource.
    assert!(
        out.stderr.contains("PATCH https://")
            && out
                .stderr
                .contains("/api/v1/namespaces/default/pods/web/ephemeralcontainers"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("Content-Type: application/strategic-merge-patch+json"),
        "{}",
        out.stderr
    );
    let body = out
        .stderr
        .lines()
        .find_map(|l| {
            l.split("generated strategic merge patch for debug container: ")
                .nth(1)
        })
        .unwrap_or_else(|| panic!("no patch: {}", out.stderr));
    let expected = format!(
        r#"{{"spec":{{"ephemeralContainers":[{{"command":["sh","-c","{script}"],"image":"{IMAGE}","name":"dbg","resources":{{}},"terminationMessagePolicy":"File"}}]}}}}"#
    );
    assert_eq!(body, expected);

    let running =
        "{.status.ephemeralContainerStatuses[?(@.name==\"dbg\")].state.running.startedAt}";
    assert!(
        true_within(ROLLOUT_TIMEOUT, || !c
            .jsonpath(&["pod", "web"], running)
            .is_empty()),
        "{}",
        c.ok(&["get", "pod", "web", "-o", "yaml"])
    );
    let status = c.get_json(&["pod", "web"])["status"]["ephemeralContainerStatuses"][0].clone();
    assert_eq!(status["name"], "dbg");
    assert_eq!(status["image"], IMAGE);
    assert_eq!(status["restartCount"], 0);
    assert_eq!(status["ready"], false);
    assert!(
        status["containerID"]
            .as_str()
            .is_some_and(|id| id.starts_with("krust://")),
        "{status}"
    );
    assert!(
        status["imageID"]
            .as_str()
            .is_some_and(|id| id.contains("sha256:")),
        "{status}"
    );
    // The pod itself is unchanged: one container, Ready.
    assert_eq!(
        c.jsonpath(&["pod", "web"], "{.status.containerStatuses[*].name}"),
        "app"
    );
    assert_eq!(
        c.jsonpath(
            &["pod", "web"],
            "{.status.conditions[?(@.type==\"Ready\")].status}"
        ),
        "True"
    );

    // Logs, exec, attach.
    assert!(
        true_within(ROLLOUT_TIMEOUT, || c
            .ok(&["logs", "web", "-c", "dbg"])
            .starts_with("dbg-says-hi\n")),
        "{}",
        c.ok(&["logs", "web", "-c", "dbg"])
    );
    assert_eq!(
        c.ok(&["exec", "web", "-c", "dbg", "--", "echo", "in-dbg"]),
        "in-dbg\n"
    );
    let own_pid_ns = c.ok(&["exec", "web", "-c", "dbg", "--", "ps", "-o", "args"]);
    assert!(
        !own_pid_ns.contains("sleep 3601"),
        "without --target the debug container has its own PID namespace: {own_pid_ns}"
    );
    let mut attach = c.kubectl_background(&["attach", "web", "-c", "dbg"]);
    let line = attach.next_line(Duration::from_secs(15));
    assert_eq!(line.trim(), "tick", "{:?}", attach.seen());
    drop(attach);

    // Events as the kubelet posts them, on the ephemeral container's field path.
    let field = "spec.ephemeralContainers{dbg}";
    let events = || field_events(&c, "web", field);
    assert!(
        true_within(ROLLOUT_TIMEOUT, || {
            let e = events();
            e.contains("Created: Created container: dbg")
                && e.contains("Started: Started container dbg")
        }),
        "{}",
        events()
    );
    assert!(events().contains("Pulled: "), "{}", events());

    // A node restarted (kill -9 of the whole server) adopts the debug container: same id,
    // still running, not started again.
    let id_path = "{.status.ephemeralContainerStatuses[0].containerID}";
    let id = c.jsonpath(&["pod", "web"], id_path);
    c.restart_after_kill9();
    std::thread::sleep(Duration::from_secs(3));
    wait_for(
        &c,
        "web",
        "{.status.ephemeralContainerStatuses[0].containerID}",
        &id,
    );
    assert!(!c.jsonpath(&["pod", "web"], running).is_empty());
    let hi = c
        .ok(&["logs", "web", "-c", "dbg"])
        .matches("dbg-says-hi")
        .count();
    assert_eq!(hi, 1, "started once");

    // Deleting the pod stops and removes the debug container too.
    assert!(host_process_with("dbg-says-hi"));
    remove_pods(&c);
    assert!(
        true_within(ROLLOUT_TIMEOUT, || !host_process_with("dbg-says-hi")),
        "the debug container outlived its pod"
    );
}

#[test]
fn invalid_debug_containers_are_refused_and_copy_to_and_node_debugging_work() {
    let c = cluster();
    web(&c);
    let image = format!("--image={IMAGE}");
    let taken = c.fails(&["debug", "web", &image, "-c", "app", "--", "true"]);
    assert!(
        taken.contains(
            r#"Pod "web" is invalid: spec.ephemeralContainers[0].name: Duplicate value: "app""#
        ),
        "{taken}"
    );
    let no_target = c.fails(&[
        "debug",
        "web",
        &image,
        "-c",
        "d",
        "--target=nope",
        "--",
        "true",
    ]);
    assert!(
        no_target.contains(
            r#"Pod "web" is invalid: spec.ephemeralContainers[0].targetContainerName: Not found: "nope""#
        ),
        "{no_target}"
    );
    assert_eq!(
        c.jsonpath(&["pod", "web"], "{.spec.ephemeralContainers}"),
        "",
        "nothing was added"
    );
    // A plain update may not add one.
    let patch =
        format!(r#"{{"spec":{{"ephemeralContainers":[{{"name":"x","image":"{IMAGE}"}}]}}}}"#);
    let plain = c.fails(&["patch", "pod", "web", "-p", &patch]);
    assert!(
        plain.contains("spec: Forbidden: pod updates may not change fields other than"),
        "{plain}"
    );

    // --profile=general: the debug container gets CAP_SYS_PTRACE.
    c.ok(&[
        "debug",
        "web",
        &image,
        "--profile=general",
        "-c",
        "gen",
        "--",
        "sh",
        "-c",
        "grep CapEff /proc/self/status; sleep 3603",
    ]);
    let caps = || c.kubectl(&["logs", "web", "-c", "gen"]).stdout;
    assert!(
        true_within(ROLLOUT_TIMEOUT, || caps().contains("CapEff")),
        "{}",
        c.ok(&["get", "pod", "web", "-o", "yaml"])
    );
    let hex = caps()
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let bits = u64::from_str_radix(&hex, 16).unwrap_or_else(|_| panic!("{}", caps()));
    assert_ne!(bits & (1 << 19), 0, "CAP_SYS_PTRACE is in {hex}");

    // --copy-to: a new pod, the original's containers plus the debug one, scheduled anew.
    c.ok(&[
        "debug",
        "web",
        &image,
        "--copy-to=web-copy",
        "-c",
        "copydbg",
        "--",
        "sh",
        "-c",
        "echo in-the-copy; sleep 3602",
    ]);
    wait_running(&c, "web-copy");
    assert_eq!(
        c.jsonpath(&["pod", "web-copy"], "{.spec.containers[*].name}"),
        "app copydbg"
    );
    assert!(
        true_within(ROLLOUT_TIMEOUT, || c
            .ok(&["logs", "web-copy", "-c", "copydbg"])
            .contains("in-the-copy")),
        "{}",
        c.ok(&["describe", "pod", "web-copy"])
    );

    // debug node/NAME: a pod in the host's namespaces with the host's root at /host.
    let node = format!("node/{}", c.node_name());
    let out = c.ok(&[
        "debug",
        &node,
        &image,
        "--",
        "sh",
        "-c",
        "cat /host/proc/sys/kernel/random/boot_id; sleep 3605",
    ]);
    let pod = out
        .split_whitespace()
        .find(|w| w.starts_with("node-debugger-"))
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    wait_running(&c, &pod);
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    assert!(
        true_within(ROLLOUT_TIMEOUT, || c.ok(&["logs", &pod]) == boot_id),
        "{}",
        c.ok(&["logs", &pod])
    );
    remove_pods(&c);
}

#[test]
fn a_debug_image_is_pulled_with_the_kubelets_events_and_a_missing_one_waits() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let registry = runtime.block_on(krust_image::testing::Registry::start(None));
    let addr = registry.addr().to_owned();
    registry.push(
        "tools/busybox:1",
        &krust_image::testing::BusyboxImage::default().image(),
    );
    let c = cluster_with(&["--insecure-registry", &addr]);
    web(&c);
    let image = format!("{addr}/tools/busybox:1");
    c.ok(&[
        "debug",
        "web",
        &format!("--image={image}"),
        "--image-pull-policy=Always",
        "-c",
        "pulled",
        "--",
        "sleep",
        "3604",
    ]);
    let field = "spec.ephemeralContainers{pulled}";
    let events = || field_events(&c, "web", field);
    assert!(
        true_within(ROLLOUT_TIMEOUT, || {
            let e = events();
            e.contains(&format!("Pulling: Pulling image \"{image}\""))
                && e.contains("Pulled: Successfully pulled image")
                && e.contains("Started: Started container pulled")
        }),
        "{}",
        events()
    );

    // An image that is not there: the status waits with the pull error, as the kubelet's.
    let missing = format!("{addr}/tools/missing:1");
    c.ok(&[
        "debug",
        "web",
        &format!("--image={missing}"),
        "-c",
        "gone",
        "--",
        "true",
    ]);
    let reason = "{.status.ephemeralContainerStatuses[?(@.name==\"gone\")].state.waiting.reason}";
    assert!(
        true_within(ROLLOUT_TIMEOUT, || matches!(
            c.jsonpath(&["pod", "web"], reason).as_str(),
            "ErrImagePull" | "ImagePullBackOff"
        )),
        "{}",
        c.ok(&["get", "pod", "web", "-o", "yaml"])
    );
    remove_pods(&c);
}

/// The Events of pod `pod` on `field` (`spec.ephemeralContainers{name}`), a line each:
/// `Reason: message`.
fn field_events(c: &Cluster, pod: &str, field: &str) -> String {
    c.ok(&[
        "get",
        "events",
        "--field-selector",
        &format!("involvedObject.name={pod},involvedObject.fieldPath={field}"),
        "-o",
        "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
    ])
}
