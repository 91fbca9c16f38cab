//! Pod features on a real node (root), seen from inside the running containers: env of every
//! source and `$(VAR)`, command/args against the image's entrypoint/cmd, workingDir, volumes
//! of every kind (a ConfigMap's change reaching the running container), `/etc/hosts` and the
//! hostname, securityContext, resources as cgroup files and QoS classes, hostPort and pod
//! networking.

mod real_node_support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

use krust_e2e::{Cluster, true_within};
use krust_image::testing::BusyboxImage;
use real_node_support::*;

#[test]
fn env_command_volumes_and_hosts_reach_real_containers() {
    let c = cluster();
    let entry = BusyboxImage {
        entrypoint: Some(vec!["sh".into(), "-c".into()]),
        cmd: Some(vec!["echo image-cmd; sleep 3600".into()]),
        working_dir: Some("/srv".into()),
        files: vec![("srv/marker".into(), b"from the image".to_vec(), 0o644)],
        ..BusyboxImage::default()
    };
    load(&c, &entry, "krust.test/entry:1");
    let host_dir = c.data_dir().join("krt-host-dir");
    c.ok(&[
        "create",
        "configmap",
        "krt-cm",
        "--from-literal=color=blue",
        "--from-literal=size=large",
    ]);
    c.ok(&[
        "create",
        "secret",
        "generic",
        "krt-secret",
        "--from-literal=password=s3cret",
    ]);
    apply(
        &c,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata:
  name: feat
  labels: {{app: feat, tier: back}}
  annotations: {{note: hello}}
spec:
  containers:
  - name: main
    image: {IMAGE}
    command: [sh, -c, "echo started; sleep 3600"]
    workingDir: /tmp/work
    resources:
      limits: {{memory: 64Mi, cpu: 500m}}
    env:
    - {{name: PLAIN, value: plain-value}}
    - {{name: EXPANDED, value: "$(PLAIN)-expanded"}}
    - {{name: ESCAPED, value: "$$(PLAIN)"}}
    - {{name: MY_POD, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
    - {{name: MY_IP, valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}}}
    - {{name: MY_NODE, valueFrom: {{fieldRef: {{fieldPath: spec.nodeName}}}}}}
    - {{name: MY_LABEL, valueFrom: {{fieldRef: {{fieldPath: "metadata.labels['tier']"}}}}}}
    - {{name: MEM_MI, valueFrom: {{resourceFieldRef: {{resource: limits.memory, divisor: 1Mi}}}}}}
    - {{name: CPU_M, valueFrom: {{resourceFieldRef: {{resource: limits.cpu, divisor: 1m}}}}}}
    - {{name: FROM_CM, valueFrom: {{configMapKeyRef: {{name: krt-cm, key: color}}}}}}
    - {{name: FROM_SECRET, valueFrom: {{secretKeyRef: {{name: krt-secret, key: password}}}}}}
    envFrom:
    - {{prefix: CM_, configMapRef: {{name: krt-cm}}}}
    - secretRef: {{name: krt-secret}}
    volumeMounts:
    - {{name: scratch, mountPath: /scratch}}
    - {{name: mem, mountPath: /mem}}
    - {{name: cm, mountPath: /cm}}
    - {{name: cmall, mountPath: /cmall}}
    - {{name: sec, mountPath: /sec}}
    - {{name: down, mountPath: /down}}
    - {{name: proj, mountPath: /proj}}
    - {{name: host, mountPath: /host}}
  volumes:
  - {{name: scratch, emptyDir: {{}}}}
  - {{name: mem, emptyDir: {{medium: Memory}}}}
  - name: cm
    configMap:
      name: krt-cm
      defaultMode: 0400
      items: [{{key: color, path: sub/colour}}]
  - {{name: cmall, configMap: {{name: krt-cm}}}}
  - {{name: sec, secret: {{secretName: krt-secret, defaultMode: 0440}}}}
  - name: down
    downwardAPI:
      items:
      - {{path: labels, fieldRef: {{fieldPath: metadata.labels}}}}
      - {{path: name, fieldRef: {{fieldPath: metadata.name}}}}
      - {{path: mem, resourceFieldRef: {{containerName: main, resource: limits.memory, divisor: 1Mi}}}}
  - name: proj
    projected:
      sources:
      - configMap: {{name: krt-cm, items: [{{key: size, path: size}}]}}
      - secret: {{name: krt-secret}}
      - downwardAPI: {{items: [{{path: annotations, fieldRef: {{fieldPath: metadata.annotations}}}}]}}
  - name: host
    hostPath: {{path: {host}, type: DirectoryOrCreate}}
---
apiVersion: v1
kind: Pod
metadata: {{name: image-defaults}}
spec:
  containers: [{{name: c, image: krust.test/entry:1}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: with-args}}
spec:
  containers: [{{name: c, image: krust.test/entry:1, args: ["echo from-args; sleep 3600"]}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: with-command}}
spec:
  containers:
  - name: c
    image: krust.test/entry:1
    command: [sh, -c, "echo from-command $0 $1; sleep 3600", one, two]
"#,
            host = host_dir.display()
        ),
    );
    wait_running(&c, "feat");
    let ip = c.jsonpath(&["pod", "feat"], "{.status.podIP}");

    // env
    let env = sh(&c, "feat", "env");
    for want in [
        "PLAIN=plain-value".to_string(),
        "EXPANDED=plain-value-expanded".into(),
        "ESCAPED=$(PLAIN)".into(),
        "MY_POD=feat".into(),
        format!("MY_IP={ip}"),
        format!("MY_NODE={}", c.node_name()),
        "MY_LABEL=back".into(),
        "MEM_MI=64".into(),
        "CPU_M=500".into(),
        "FROM_CM=blue".into(),
        "FROM_SECRET=s3cret".into(),
        "CM_color=blue".into(),
        "CM_size=large".into(),
        "password=s3cret".into(),
        "HOSTNAME=feat".into(),
        "KUBERNETES_SERVICE_HOST=".into(),
        "KUBERNETES_SERVICE_PORT=".into(),
        "KUBERNETES_PORT=tcp://".into(),
    ] {
        assert!(
            env.lines().any(|l| l.starts_with(&want)),
            "no {want} in:\n{env}"
        );
    }
    // workingDir (made when missing), command.
    assert_eq!(sh(&c, "feat", "pwd").trim(), "/tmp/work");
    assert_eq!(c.ok(&["logs", "feat"]).trim(), "started");

    // volumes
    let mounts = sh(&c, "feat", "cat /proc/mounts");
    assert!(
        mounts.lines().any(|l| l.contains(" /mem tmpfs ")),
        "/mem is no tmpfs:\n{mounts}"
    );
    sh(&c, "feat", "echo kept > /scratch/f && echo in-ram > /mem/f");
    assert_eq!(sh(&c, "feat", "cat /scratch/f /mem/f"), "kept\nin-ram\n");
    assert_eq!(sh(&c, "feat", "cat /cm/sub/colour"), "blue");
    assert_eq!(sh(&c, "feat", "stat -L -c %a /cm/sub/colour").trim(), "400");
    assert_eq!(sh(&c, "feat", "ls /cm").trim(), "sub");
    assert_eq!(sh(&c, "feat", "cat /sec/password"), "s3cret");
    assert_eq!(sh(&c, "feat", "stat -L -c %a /sec/password").trim(), "440");
    let labels = sh(&c, "feat", "cat /down/labels");
    assert!(
        labels.contains("app=\"feat\"") && labels.contains("tier=\"back\""),
        "{labels}"
    );
    assert_eq!(sh(&c, "feat", "cat /down/name"), "feat");
    assert_eq!(sh(&c, "feat", "cat /down/mem"), "64");
    assert_eq!(
        sh(
            &c,
            "feat",
            "cat /proj/size /proj/password; echo; grep ^note= /proj/annotations"
        ),
        "larges3cret\nnote=\"hello\"\n"
    );
    let denied = c.kubectl(&["exec", "feat", "--", "sh", "-c", "echo x > /cm/new"]);
    assert!(!denied.success(), "a configMap volume is read-only");
    sh(&c, "feat", "echo from-the-pod > /host/f");
    assert_eq!(
        std::fs::read_to_string(host_dir.join("f")).unwrap(),
        "from-the-pod\n"
    );

    // /etc/hosts and the hostname.
    let hosts = sh(&c, "feat", "cat /etc/hosts");
    assert!(
        hosts
            .lines()
            .any(|l| l.starts_with(&ip) && l.split_whitespace().any(|w| w == "feat")),
        "{hosts}"
    );
    assert!(hosts.contains("localhost"), "{hosts}");
    assert_eq!(sh(&c, "feat", "hostname").trim(), "feat");

    // The image's entrypoint, cmd and workingDir, and what the pod says instead.
    wait_running(&c, "image-defaults");
    wait_running(&c, "with-args");
    wait_running(&c, "with-command");
    assert!(true_within(Duration::from_secs(10), || c
        .kubectl(&["logs", "image-defaults"])
        .stdout
        .trim()
        == "image-cmd"));
    assert_eq!(
        sh(&c, "image-defaults", "pwd; cat marker"),
        "/srv\nfrom the image"
    );
    assert_eq!(c.ok(&["logs", "with-args"]).trim(), "from-args");
    assert_eq!(
        c.ok(&["logs", "with-command"]).trim(),
        "from-command one two"
    );

    // A ConfigMap's change reaches the running container (env does not change).
    c.ok(&[
        "patch",
        "configmap",
        "krt-cm",
        "-p",
        r#"{"data":{"color":"green"}}"#,
    ]);
    assert!(
        true_within(Duration::from_secs(90), || c
            .kubectl(&["exec", "feat", "--", "cat", "/cmall/color"])
            .stdout
            == "green"),
        "the configMap volume still shows {:?}",
        c.kubectl(&["exec", "feat", "--", "cat", "/cmall/color"])
            .stdout
    );
    assert_eq!(sh(&c, "feat", "cat /cm/sub/colour"), "green");
    assert_eq!(sh(&c, "feat", "echo $FROM_CM").trim(), "blue");
    remove_pods(&c);
    let _ = std::fs::remove_dir_all(&host_dir);
}

/// The host path of a container's cgroup file: `/proc/self/cgroup` read in the container
/// names its cgroup in each hierarchy (no cgroup namespace on v1).
fn cgroup_file(c: &Cluster, pod: &str, controller: &str, file: &str) -> String {
    let cgroups = sh(c, pod, "cat /proc/self/cgroup");
    let path = cgroups
        .lines()
        .find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            controllers
                .split(',')
                .any(|c| c == controller)
                .then(|| format!("/sys/fs/cgroup/{controllers}{path}/{file}"))
        })
        .unwrap_or_else(|| panic!("no {controller} cgroup in {cgroups}"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .trim()
        .to_owned()
}

#[test]
fn security_contexts_and_resources_shape_real_containers() {
    let c = cluster();
    let pod = |name: &str, extra: &str| {
        format!(
            r#"---
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  containers:
  - name: c
    image: {IMAGE}
    command: [sleep, "3600"]
{extra}
"#
        )
    };
    let manifests = [
        pod(
            "user",
            "    securityContext: {runAsUser: 1000, runAsGroup: 2000}",
        ),
        pod("nonroot", "    securityContext: {runAsNonRoot: true}"),
        pod(
            "readonly",
            "    securityContext: {readOnlyRootFilesystem: true}\n    volumeMounts: [{name: t, mountPath: /tmp}]\n  volumes: [{name: t, emptyDir: {}}]",
        ),
        pod(
            "caps",
            "    securityContext: {capabilities: {drop: [ALL], add: [NET_ADMIN]}}",
        ),
        pod("priv", "    securityContext: {privileged: true}"),
        pod(
            "guaranteed",
            "    resources: {limits: {cpu: 250m, memory: 64Mi}}",
        ),
        pod(
            "burstable",
            "    resources: {requests: {cpu: 100m, memory: 32Mi}, limits: {memory: 128Mi}}",
        ),
    ];
    apply(&c, &manifests.concat());
    for p in [
        "user",
        "readonly",
        "caps",
        "priv",
        "guaranteed",
        "burstable",
    ] {
        wait_running(&c, p);
    }
    assert_eq!(sh(&c, "user", "id -u; id -g"), "1000\n2000\n");
    wait_for(
        &c,
        "nonroot",
        "{.status.containerStatuses[0].state.waiting.reason}",
        "CreateContainerConfigError",
    );
    let message = c.jsonpath(
        &["pod", "nonroot"],
        "{.status.containerStatuses[0].state.waiting.message}",
    );
    assert!(
        message.starts_with(
            "container has runAsNonRoot and image will run as root (pod: \"nonroot_default("
        ) && message.ends_with("container: c)"),
        "{message}"
    );
    assert!(
        event_within(&c, "nonroot", &["Failed", "runAsNonRoot"]),
        "{}",
        events(&c, "nonroot")
    );

    let ro = c.kubectl(&["exec", "readonly", "--", "touch", "/x"]);
    assert!(
        !ro.success() && ro.stderr.contains("Read-only file system"),
        "{}",
        ro.stderr
    );
    sh(&c, "readonly", "touch /tmp/x");

    let cap_eff = |pod: &str| sh(&c, pod, "grep CapEff /proc/self/status");
    assert_eq!(
        cap_eff("caps").split_whitespace().nth(1),
        Some("0000000000001000")
    );
    let default = cap_eff("user");
    let all = cap_eff("priv");
    // Every capability the node holds (its bounding set), as containerd gives.
    let host = std::fs::read_to_string("/proc/self/status").unwrap();
    let bounding = host
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim();
    assert_eq!(all.split_whitespace().nth(1), Some(bounding), "{all}");
    assert_ne!(default, all);
    // A privileged container sees the host's devices.
    assert!(sh(&c, "priv", "ls /dev").lines().count() > 20);

    // Resources: the QoS class and the cgroup files.
    for (pod, class) in [
        ("user", "BestEffort"),
        ("guaranteed", "Guaranteed"),
        ("burstable", "Burstable"),
    ] {
        assert_eq!(c.jsonpath(&["pod", pod], "{.status.qosClass}"), class);
    }
    let describe = c.ok(&["describe", "pod", "guaranteed"]);
    assert!(
        describe
            .lines()
            .any(|l| l.starts_with("QoS Class:") && l.ends_with(" Guaranteed")),
        "{describe}"
    );
    assert_eq!(cgroup_file(&c, "guaranteed", "cpu", "cpu.shares"), "256");
    assert_eq!(
        cgroup_file(&c, "guaranteed", "cpu", "cpu.cfs_period_us"),
        "100000"
    );
    assert_eq!(
        cgroup_file(&c, "guaranteed", "cpu", "cpu.cfs_quota_us"),
        "25000"
    );
    assert_eq!(
        cgroup_file(&c, "guaranteed", "memory", "memory.limit_in_bytes"),
        (64u64 << 20).to_string()
    );
    assert_eq!(cgroup_file(&c, "burstable", "cpu", "cpu.shares"), "102");
    assert_eq!(
        cgroup_file(&c, "burstable", "cpu", "cpu.cfs_quota_us"),
        "-1"
    );
    assert_eq!(
        cgroup_file(&c, "burstable", "memory", "memory.limit_in_bytes"),
        (128u64 << 20).to_string()
    );
    assert_eq!(cgroup_file(&c, "user", "cpu", "cpu.shares"), "2");
    remove_pods(&c);
}

#[test]
fn pods_reach_each_other_the_node_and_a_host_port() {
    let c = cluster();
    let node_ip = node_ip(&c);
    // A port on the node, free now, for the hostPort.
    let host_port = free_port();
    apply(
        &c,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: server}}
spec:
  containers:
  - name: web
    image: {IMAGE}
    command: [sh, -c, "mkdir /www && echo hello-from-server > /www/index.html && httpd -f -p 8080 -h /www"]
    ports: [{{containerPort: 8080, hostPort: {host_port}}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: client}}
spec:
  containers: [{{name: c, image: {IMAGE}, command: [sleep, "3600"]}}]
"#
        ),
    );
    wait_running(&c, "server");
    wait_running(&c, "client");
    let server_ip = c.jsonpath(&["pod", "server"], "{.status.podIP}");
    // busybox's wget is static glibc, whose service lookup crashes without NSS: plain nc.
    let fetch = |url: &str| {
        let (host, port) = url.split_once(':').unwrap();
        let request = r"printf 'GET /index.html HTTP/1.0\r\n\r\n'";
        c.kubectl(&[
            "exec",
            "client",
            "--",
            "sh",
            "-c",
            &format!("{request} | nc -w 5 {host} {port} | tail -n 1"),
        ])
    };
    let url = format!("{server_ip}:8080");
    assert!(
        true_within(Duration::from_secs(20), || fetch(&url).stdout
            == "hello-from-server\n"),
        "pod to pod: {:?}",
        fetch(&url)
    );

    // The hostPort on the node's address, from the host and from a pod.
    let answer = http_get_at(&node_ip, host_port, "/index.html");
    assert!(
        answer.contains("hello-from-server"),
        "hostPort from the host: {answer}"
    );
    let url = format!("{node_ip}:{host_port}");
    let from_pod = fetch(&url);
    assert_eq!(
        from_pod.stdout, "hello-from-server\n",
        "hostPort from a pod: {from_pod:?}"
    );

    // A pod reaches a listener of the node.
    let listener = TcpListener::bind((node_ip.as_str(), 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = std::thread::spawn(move || {
        let (mut stream, peer) = listener.accept().expect("accept");
        stream.write_all(b"hello-from-node\n").unwrap();
        let mut line = String::new();
        let _ = BufReader::new(stream).read_line(&mut line);
        (peer.ip().to_string(), line)
    });
    let out = sh(
        &c,
        "client",
        &format!("echo hi-node | nc -w 5 {node_ip} {port}"),
    );
    assert_eq!(out, "hello-from-node\n");
    let (peer, line) = accepted.join().unwrap();
    assert_eq!(line, "hi-node\n");
    let client_ip = c.jsonpath(&["pod", "client"], "{.status.podIP}");
    assert_eq!(peer, client_ip, "the node sees the pod's own address");
    remove_pods(&c);
}
