//! The seed tutorial on a real node (root), with the real kubectl: `run`, `get -o wide`,
//! `describe`, every `logs` flag, `exec -i` and `exec -it` (under `script` for a terminal),
//! `cp` both ways, `attach`, `port-forward` to a pod, a deployment and a service (two ports
//! at once), and a deployment's life: `create`, `scale`, `set image`, `rollout status`,
//! `logs deploy/x`, `delete`.

mod real_node_support;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use krust_e2e::{Background, ROLLOUT_TIMEOUT, kubectl_bin, table, true_within};
use krust_image::testing::BusyboxImage;
use real_node_support::*;

#[test]
fn the_tutorial_pod_commands_work_on_a_real_node() {
    let c = cluster();
    let image = format!("--image={IMAGE}");
    c.ok(&[
        "run",
        "ticker",
        &image,
        "--",
        "sh",
        "-c",
        "i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done",
    ]);
    // A pod of two containers, the first of which exits (and restarts) to have a previous log.
    apply(
        &c,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: pair}}
spec:
  containers:
  - name: first
    image: {IMAGE}
    command: [sh, -c, "echo first run at $(date +%s%N); sleep 2; exit 1"]
  - name: second
    image: {IMAGE}
    command: [sh, -c, "echo from second; sleep 3600"]
"#
        ),
    );
    wait_running(&c, "ticker");

    // get -o wide: IP and NODE.
    let wide = table(&c.ok(&["get", "pod", "ticker", "-o", "wide"]));
    let header = &wide[0];
    let ip = c.jsonpath(&["pod", "ticker"], "{.status.podIP}");
    let column = |name: &str| header.iter().position(|h| h == name).expect(name);
    assert_eq!(wide[1][column("IP")], ip, "{wide:?}");
    assert_eq!(wide[1][column("NODE")], c.node_name(), "{wide:?}");
    assert_eq!(wide[1][column("STATUS")], "Running", "{wide:?}");

    // describe: IP, QoS, the Containers section, Events.
    let describe = c.ok(&["describe", "pod", "ticker"]);
    for want in [
        "IP:".to_string(),
        ip.clone(),
        "QoS Class:".into(),
        "BestEffort".into(),
        "Containers:".into(),
        "Container ID:  krust://".into(),
        "State:          Running".into(),
        "Events:".into(),
        "Started".into(),
        format!("Node:             {}/", c.node_name()),
    ] {
        assert!(describe.contains(&want), "no {want:?} in:\n{describe}");
    }

    // logs and its flags.
    assert!(true_within(Duration::from_secs(15), || c
        .ok(&["logs", "ticker"])
        .lines()
        .count()
        >= 4));
    let tail = c.ok(&["logs", "ticker", "--tail=2"]);
    assert_eq!(tail.lines().count(), 2, "{tail}");
    let stamped = c.ok(&["logs", "ticker", "--timestamps", "--tail=1"]);
    let (stamp, line) = stamped.trim().split_once(' ').expect("a timestamp");
    assert!(stamp.contains('T') && stamp.ends_with('Z'), "{stamped}");
    assert!(line.starts_with("tick "), "{stamped}");
    let since = c.ok(&["logs", "ticker", "--since=1h"]);
    assert!(since.contains("tick 0"), "{since}");
    let mut follow = c.kubectl_background(&["logs", "-f", "ticker", "--tail=1"]);
    let first = follow.next_line(Duration::from_secs(10));
    let next = follow.next_line(Duration::from_secs(10));
    assert!(
        first.starts_with("tick ") && next.starts_with("tick "),
        "{first} {next}"
    );
    assert_ne!(first, next);
    drop(follow);

    // -c, --all-containers, -p.
    wait_running(&c, "pair");
    let second = c.ok(&["logs", "pair", "-c", "second"]);
    assert_eq!(second.trim(), "from second");
    let all = c.ok(&["logs", "pair", "--all-containers"]);
    assert!(
        all.contains("from second") && all.contains("first run at"),
        "{all}"
    );
    assert!(
        true_within(ROLLOUT_TIMEOUT, || c.jsonpath(
            &["pod", "pair"],
            "{.status.containerStatuses[0].restartCount}"
        ) != "0"),
        "{}",
        c.ok(&["get", "pod", "pair", "-o", "yaml"])
    );
    let previous = c.ok(&["logs", "pair", "-c", "first", "-p"]);
    assert!(previous.starts_with("first run at"), "{previous}");
    let no_previous = c.fails(&["logs", "pair", "-c", "second", "-p"]);
    assert!(
        no_previous.contains("previous terminated container"),
        "{no_previous}"
    );

    // exec -i: stdin reaches the command.
    let mut cmd = c.kubectl_command(&["exec", "-i", "ticker", "--", "sh", "-c", "tr a-z A-Z"]);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl exec -i");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"shout\n")
        .expect("write");
    let out = child.wait_with_output().expect("exec -i");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "SHOUT",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // exec -it under `script`: a terminal in the container.
    let line = format!(
        "{} --kubeconfig {} exec -it ticker -- sh -c 'tty; stty size'",
        kubectl_bin().display(),
        c.kubeconfig().display()
    );
    let mut script = std::process::Command::new("script");
    script.args(["-qec", &line, "/dev/null"]);
    let out = krust_e2e::run_with_timeout(script, Duration::from_secs(30));
    assert!(
        out.stdout.contains("/dev/pts/"),
        "{}{}",
        out.stdout,
        out.stderr
    );

    // cp both ways.
    let local = c.write_file("to-pod.txt", "copied in\n");
    c.ok(&["cp", local.to_str().unwrap(), "ticker:/tmp/in.txt"]);
    assert_eq!(sh(&c, "ticker", "cat /tmp/in.txt"), "copied in\n");
    sh(&c, "ticker", "echo copied out > /tmp/out.txt");
    let back = c.data_dir().join("from-pod.txt");
    c.ok(&["cp", "ticker:/tmp/out.txt", back.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "copied out\n");

    // attach: the running container's output.
    let mut attach = c.kubectl_background(&["attach", "ticker"]);
    let line = loop {
        let line = attach.next_line(Duration::from_secs(15));
        if line.starts_with("tick ") {
            break line;
        }
    };
    assert!(line.starts_with("tick "), "{:?}", attach.seen());
    drop(attach);

    // An attach with stdin: what is typed reaches the container.
    c.ok(&[
        "run",
        "echoer",
        &image,
        "-i",
        "--",
        "sh",
        "-c",
        "while read l; do echo got $l; done",
    ]);
    wait_running(&c, "echoer");
    let mut cmd = c.kubectl_command(&["attach", "-i", "echoer"]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = cmd.stderr(Stdio::null()).spawn().expect("attach -i");
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = Background::lines_of(stdout);
    let got = (0..20).find_map(|_| {
        let _ = stdin.write_all(b"ping\n");
        lines
            .recv_timeout(Duration::from_millis(500))
            .ok()
            .filter(|l| l.contains("got ping"))
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(got.is_some(), "attach -i never echoed");
    remove_pods(&c);
}

#[test]
fn port_forward_and_a_deployment_rollout_work_on_a_real_node() {
    let c = cluster();
    load(&c, &BusyboxImage::default(), "krust.test/busybox:2");
    c.ok(&[
        "create",
        "deployment",
        "web",
        &format!("--image={IMAGE}"),
        "--port=8080",
        "--",
        "sh",
        "-c",
        "mkdir -p /www /www2 && echo hello-web > /www/index.html && echo second-port > /www2/index.html && echo serving && httpd -p 8081 -h /www2 && httpd -f -p 8080 -h /www",
    ]);
    assert!(
        c.deployment_ready("web", "1/1"),
        "{}",
        c.ok(&["describe", "pods", "-l", "app=web"])
    );
    c.ok(&[
        "expose",
        "deployment",
        "web",
        "--port=80",
        "--target-port=8080",
    ]);
    let pod = c.ok(&[
        "get",
        "pods",
        "-l",
        "app=web",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ]);

    // A pod, two ports at once.
    let mut pf = c.kubectl_background(&[
        "port-forward",
        "--address=127.0.0.1",
        &format!("pod/{pod}"),
        ":8080",
        ":8081",
    ]);
    let one = forwarded_port(&pf.next_line(Duration::from_secs(15)));
    let two = forwarded_port(&pf.next_line(Duration::from_secs(15)));
    let answer = http_get(one, "/index.html");
    assert!(answer.contains("hello-web"), "{answer}");
    let answer = http_get(two, "/index.html");
    assert!(answer.contains("second-port"), "{answer}");
    drop(pf);

    // A deployment and a service (its port 80 is the pod's 8080).
    for target in ["deployment/web:8080", "service/web:80"] {
        let (what, port) = target.split_once(':').unwrap();
        let mut pf = c.kubectl_background(&[
            "port-forward",
            "--address=127.0.0.1",
            what,
            &format!(":{port}"),
        ]);
        let local = forwarded_port(&pf.next_line(Duration::from_secs(15)));
        let answer = http_get(local, "/index.html");
        assert!(answer.contains("hello-web"), "{target}: {answer}");
        drop(pf);
    }

    // logs deploy/x.
    assert!(c.ok(&["logs", "deploy/web"]).contains("serving"));

    // scale, set image to a second tag, rollout status.
    c.ok(&["scale", "deployment", "web", "--replicas=2"]);
    assert!(
        c.deployment_ready("web", "2/2"),
        "{}",
        c.ok(&["get", "pods", "-o", "wide"])
    );
    c.ok(&[
        "set",
        "image",
        "deployment/web",
        "busybox=krust.test/busybox:2",
    ]);
    let status = c.ok(&["rollout", "status", "deployment/web", "--timeout=120s"]);
    assert!(status.contains("successfully rolled out"), "{status}");
    assert!(
        true_within(ROLLOUT_TIMEOUT, || c
            .ok(&["get", "pods", "-l", "app=web", "-o", "name"])
            .lines()
            .count()
            == 2),
        "{}",
        c.ok(&["get", "pods", "-o", "wide"])
    );
    let images = c.ok(&[
        "get",
        "pods",
        "-l",
        "app=web",
        "-o",
        "jsonpath={range .items[*]}{.status.containerStatuses[0].image}{\"\\n\"}{end}",
    ]);
    assert!(
        images.lines().all(|l| l == "krust.test/busybox:2"),
        "{images}"
    );

    // delete: the pods go, and so do their containers.
    c.ok(&["delete", "deployment", "web"]);
    assert!(
        true_within(ROLLOUT_TIMEOUT, || c
            .ok(&["get", "pods", "-o", "name"])
            .trim()
            .is_empty()),
        "{}",
        c.ok(&["get", "pods", "-o", "wide"])
    );
}
