//! Services on a real node (root): the seed tutorial's `kubectl create deployment` and
//! `kubectl expose`, then the Service's ClusterIP, NodePort (127.0.0.1 and the node's address)
//! and LoadBalancer address lead to the pods, from the host and from a pod, round robin over
//! the replicas; a replica scaled away or failing its readiness probe gets no more requests;
//! a Service without endpoints refuses; a pod reaches itself through its Service (hairpin);
//! UDP reaches a selector-less Service backed by the node; a LoadBalancer with
//! `externalTrafficPolicy: Local` answers its health check node port (200 with a local
//! endpoint, 503 without) and admits only its `loadBalancerSourceRanges`; the rules survive a
//! kill -9 and go with a stop or `krust killall`; nothing for the cluster's ranges leaves the
//! host.

mod real_node_support;

use std::collections::BTreeSet;
use std::time::Duration;

use krust_e2e::{Cluster, ROLLOUT_TIMEOUT, true_within};
use real_node_support::*;

/// `kubectl expose deployment web --port 80 --target-port 8080`: the Service's ClusterIP.
fn expose_web(c: &Cluster) -> String {
    c.ok(&[
        "expose",
        "deployment",
        "web",
        "--port",
        "80",
        "--target-port",
        "8080",
    ]);
    c.jsonpath(&["service", "web"], "{.spec.clusterIP}")
}

/// The pods labelled `app=<app>` that are not being deleted.
fn staying(c: &Cluster, app: &str) -> BTreeSet<String> {
    let list = c.get_json(&["pods", "-l", &format!("app={app}")]);
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
        .collect()
}

fn client(c: &Cluster) {
    c.ok(&["run", "client", "--image", IMAGE, "--", "sleep", "3600"]);
    wait_running(c, "client");
}

fn web_deployment(c: &Cluster, replicas: &str) -> BTreeSet<String> {
    c.ok(&[
        "create",
        "deployment",
        "web",
        "--image",
        IMAGE,
        "--replicas",
        replicas,
        "--",
        "sh",
        "-c",
        SERVE_HOSTNAME,
    ]);
    assert!(
        true_within(ROLLOUT_TIMEOUT, || c
            .deployment_ready("web", &format!("{replicas}/{replicas}"))),
        "web never became ready: {}",
        c.ok(&["get", "pods", "-o", "wide"])
    );
    pod_names(c, "web")
}

#[test]
fn expose_leads_to_every_replica_by_cluster_ip_node_port_and_load_balancer() {
    let leaks = leak_check();
    let c = cluster();
    let node_ip = node_ip(&c);
    let pods = web_deployment(&c, "3");
    client(&c);
    let cluster_ip = expose_web(&c);

    // The ClusterIP from the host and from a pod: all three replicas answer.
    assert!(
        true_within(Duration::from_secs(10), || host_reaches(
            &cluster_ip,
            80,
            30,
            &pods
        )),
        "from the host to {cluster_ip}:80 not all of {pods:?}: {:?}\n{}",
        (0..10)
            .map(|_| from_host(&cluster_ip, 80))
            .collect::<Vec<_>>(),
        krust_e2e::tail(&c.server_stderr(), 30)
    );
    let answers: BTreeSet<String> = from_pod(&c, "client", &cluster_ip, 80, 30)
        .into_iter()
        .collect();
    assert_eq!(answers, pods, "from a pod to {cluster_ip}:80");

    // A NodePort on 127.0.0.1 and on the node's address.
    c.ok(&[
        "expose",
        "deployment",
        "web",
        "--name",
        "web-np",
        "--type",
        "NodePort",
        "--port",
        "80",
        "--target-port",
        "8080",
    ]);
    let node_port: u16 = c
        .jsonpath(&["service", "web-np"], "{.spec.ports[0].nodePort}")
        .parse()
        .unwrap();
    for host in ["127.0.0.1", node_ip.as_str()] {
        assert!(
            true_within(Duration::from_secs(10), || host_reaches(
                host, node_port, 30, &pods
            )),
            "NodePort {host}:{node_port}: {:?}",
            from_host(host, node_port)
        );
    }
    let answers: BTreeSet<String> = from_pod(&c, "client", &node_ip, node_port, 30)
        .into_iter()
        .collect();
    assert_eq!(
        answers, pods,
        "from a pod to the NodePort {node_ip}:{node_port}"
    );

    // A LoadBalancer: the node's address, written to its status, on the Service's port.
    let lb_port = free_port();
    c.ok(&[
        "expose",
        "deployment",
        "web",
        "--name",
        "web-lb",
        "--type",
        "LoadBalancer",
        "--port",
        &lb_port.to_string(),
        "--target-port",
        "8080",
    ]);
    assert!(
        true_within(Duration::from_secs(10), || c.jsonpath(
            &["service", "web-lb"],
            "{.status.loadBalancer.ingress[0].ip}"
        ) == node_ip),
        "no ingress address: {}",
        c.ok(&["get", "service", "web-lb", "-o", "yaml"])
    );
    let listed = c.ok(&["get", "service", "web-lb"]);
    assert!(listed.contains(&node_ip), "EXTERNAL-IP: {listed}");
    assert!(
        true_within(Duration::from_secs(10), || host_reaches(
            &node_ip, lb_port, 30, &pods
        )),
        "LoadBalancer {node_ip}:{lb_port}: {:?}",
        from_host(&node_ip, lb_port)
    );

    // Scaled down to one, only that one answers; it reaches itself through its Service.
    c.ok(&["scale", "deployment", "web", "--replicas", "1"]);
    let mut left = BTreeSet::new();
    assert!(
        true_within(ROLLOUT_TIMEOUT, || {
            left = staying(&c, "web");
            left.len() == 1
        }),
        "never one replica: {left:?}"
    );
    assert!(
        true_within(Duration::from_secs(10), || host_reaches(
            &cluster_ip,
            80,
            20,
            &left
        )),
        "after scaling to {left:?}: {:?}",
        (0..10)
            .map(|_| from_host(&cluster_ip, 80))
            .collect::<Vec<_>>()
    );
    let me = left.iter().next().unwrap().clone();
    let hairpin = from_pod(&c, &me, &cluster_ip, 80, 3);
    assert_eq!(hairpin, vec![me.clone(); 3], "{me} through its own Service");
    assert_eq!(
        leaks.leaked(),
        0,
        "packets for the cluster's ranges left the host"
    );
    // The scaled-away pods ignore SIGTERM (httpd as PID 1) for their 30 s grace period:
    // the cluster's `krust killall` at the end removes them.
}

#[test]
fn an_unready_replica_gets_nothing_and_a_service_without_endpoints_refuses() {
    let leaks = leak_check();
    let c = cluster();
    client(&c);
    apply(
        &c,
        &format!(
            r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: probed}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: probed}}}}
  template:
    metadata: {{labels: {{app: probed}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: {IMAGE}
        command: [sh, -c, "{SERVE_HOSTNAME}"]
        ports: [{{name: http, containerPort: 8080}}]
        readinessProbe:
          httpGet: {{path: /ready, port: http}}
          periodSeconds: 1
          failureThreshold: 1
---
apiVersion: v1
kind: Service
metadata: {{name: probed}}
spec:
  selector: {{app: probed}}
  ports: [{{port: 80, targetPort: http, protocol: TCP}}]
---
apiVersion: v1
kind: Service
metadata: {{name: empty}}
spec:
  selector: {{app: nothing-has-this}}
  ports: [{{port: 80, targetPort: 8080}}]
"#
        ),
    );
    assert!(
        true_within(ROLLOUT_TIMEOUT, || c.deployment_ready("probed", "2/2")),
        "probed never became ready: {}",
        c.ok(&["get", "pods", "-o", "wide"])
    );
    let pods = pod_names(&c, "probed");
    let cluster_ip = c.jsonpath(&["service", "probed"], "{.spec.clusterIP}");
    assert!(
        true_within(Duration::from_secs(10), || host_reaches(
            &cluster_ip,
            80,
            20,
            &pods
        )),
        "named target port: {:?}",
        from_host(&cluster_ip, 80)
    );

    // One replica fails its probe: the other takes every request.
    let sick = pods.iter().next().unwrap().clone();
    sh(&c, &sick, "rm /www/ready");
    let healthy: BTreeSet<String> = pods.iter().filter(|p| **p != sick).cloned().collect();
    assert!(
        true_within(Duration::from_secs(15), || host_reaches(
            &cluster_ip,
            80,
            20,
            &healthy
        )),
        "after {sick} turned unready: {:?}",
        (0..10)
            .map(|_| from_host(&cluster_ip, 80))
            .collect::<Vec<_>>()
    );
    let answers: BTreeSet<String> = from_pod(&c, "client", &cluster_ip, 80, 20)
        .into_iter()
        .collect();
    assert_eq!(answers, healthy, "from a pod after {sick} turned unready");

    // No endpoints: refused at once, from the host and from a pod.
    let empty_ip = c.jsonpath(&["service", "empty"], "{.spec.clusterIP}");
    let refused = std::net::TcpStream::connect_timeout(
        &format!("{empty_ip}:80").parse().unwrap(),
        Duration::from_secs(5),
    )
    .unwrap_err();
    assert_eq!(
        refused.kind(),
        std::io::ErrorKind::ConnectionRefused,
        "{refused}"
    );
    let out = c.kubectl(&[
        "exec",
        "client",
        "--",
        "sh",
        "-c",
        &format!("nc -w 5 {empty_ip} 80 </dev/null"),
    ]);
    assert!(out.stderr.contains("refused"), "from a pod: {out:?}");
    // An address of the range no Service has goes nowhere either.
    let unused = format!("{}.250:80", cluster_ip.rsplit_once('.').unwrap().0);
    let _ = std::net::TcpStream::connect_timeout(&unused.parse().unwrap(), Duration::from_secs(1));
    assert_eq!(
        leaks.leaked(),
        0,
        "packets for the cluster's ranges left the host"
    );
    c.ok(&["delete", "deployment", "probed", "--cascade=foreground"]);
    c.ok(&["delete", "service", "probed", "empty"]);
    remove_pods(&c);
}

/// The proxy's nftables table of this test's node (named after its bridge).
fn proxy_table_exists() -> bool {
    let table = format!("krust-proxy-krt-e2e{}", krust_e2e::test_number());
    std::process::Command::new("nft")
        .args(["list", "table", "ip", &table])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The host's routes, neighbours and proxy table, for a failure's message.
fn debug_network() -> String {
    let n = krust_e2e::test_number();
    let table = format!("krust-proxy-krt-e2e{n}");
    [
        vec!["ip", "route"],
        vec!["ip", "neigh"],
        vec!["ip", "-br", "link"],
        vec!["bridge", "link"],
        vec!["nft", "list", "table", "ip", &table],
    ]
    .iter()
    .map(|cmd| {
        let out = std::process::Command::new(cmd[0])
            .args(&cmd[1..])
            .output()
            .unwrap();
        format!(
            "$ {}\n{}{}",
            cmd.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
    .collect()
}

#[test]
fn a_cluster_ip_keeps_answering_across_restarts_and_stop_or_killall_removes_the_rules() {
    let mut c = cluster();
    let pods = web_deployment(&c, "1");
    let cluster_ip = expose_web(&c);
    assert!(
        true_within(Duration::from_secs(10), || host_reaches(
            &cluster_ip,
            80,
            3,
            &pods
        )),
        "before the restart: {:?}",
        from_host(&cluster_ip, 80)
    );
    // Requests all through the restart: the rules stay, and the new agent's first write
    // replaces them in one transaction once it has listed Services and EndpointSlices.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let asking = {
        let (stop, ip) = (stop.clone(), cluster_ip.clone());
        std::thread::spawn(move || {
            let mut answers = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                answers.push(from_host(&ip, 80));
                std::thread::sleep(Duration::from_millis(20));
            }
            answers
        })
    };
    c.restart_after_kill9();
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let answers = asking.join().unwrap();
    let pod = pods.iter().next().unwrap();
    let failed = answers.iter().filter(|a| *a != pod).count();
    assert_eq!(failed, 0, "{failed} of {} requests failed", answers.len());
    assert!(proxy_table_exists());

    // A stopped node removes its rules; started again, it writes them again.
    c.stop();
    assert!(
        !proxy_table_exists(),
        "the stopped node left its service rules"
    );
    c.start_again();
    // Under load the kubelet may give the pod a new sandbox (a new address) across the
    // stop; its EndpointSlice follows once the new controller manager holds its lease (the
    // stopped server's expires after 15 s), and then the proxy.
    let pods = pod_names(&c, "web");
    assert!(
        true_within(Duration::from_secs(45), || host_reaches(
            &cluster_ip,
            80,
            3,
            &pods
        )),
        "after a stop and start: {:?}\n{}\n{}\n{}",
        from_host(&cluster_ip, 80),
        c.ok(&["get", "pods", "-o", "wide"]),
        krust_e2e::tail(&c.server_stderr(), 30),
        debug_network()
    );
    // A killed node leaves them, `krust killall` removes them.
    c.kill9();
    assert!(proxy_table_exists());
    let out = c.krust(&["killall"]);
    assert!(out.success(), "killall: {}", out.stderr);
    assert!(!proxy_table_exists(), "killall left the service rules");
}

#[test]
fn udp_reaches_a_selectorless_service_backed_by_the_node_from_the_host_and_from_a_pod() {
    // The cluster DNS's shape: a hand-written EndpointSlice naming the bridge's address.
    let c = cluster();
    client(&c);
    let pod_cidr = c.jsonpath(&["node", &c.node_name()], "{.spec.podCIDR}");
    let gateway = format!("{}.1", pod_cidr.rsplit_once('.').unwrap().0);
    let socket = std::net::UdpSocket::bind((gateway.as_str(), 0)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let port = socket.local_addr().unwrap().port();
    apply(
        &c,
        &format!(
            r#"apiVersion: v1
kind: Service
metadata: {{name: node-dns}}
spec:
  ports: [{{name: dns, port: 53, protocol: UDP}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: node-dns-1
  labels: {{kubernetes.io/service-name: node-dns}}
addressType: IPv4
ports: [{{name: dns, port: {port}, protocol: UDP}}]
endpoints: [{{addresses: ["{gateway}"]}}]
"#
        ),
    );
    let cluster_ip = c.jsonpath(&["service", "node-dns"], "{.spec.clusterIP}");
    // Whether a datagram holding `word` arrives while `send` is repeated.
    let received = |word: &[u8], send: &dyn Fn()| {
        true_within(Duration::from_secs(15), || {
            send();
            let mut buf = [0u8; 512];
            while let Ok((n, _)) = socket.recv_from(&mut buf) {
                if buf[..n].windows(word.len()).any(|w| w == word) {
                    return true;
                }
            }
            false
        })
    };
    let from_host = || {
        let s = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        let _ = s.send_to(b"query", (cluster_ip.as_str(), 53));
    };
    assert!(
        received(b"query", &from_host),
        "nothing from the host reached {gateway}:{port}"
    );
    // busybox's nslookup asks the server it is given, over UDP (no answer comes back).
    let from_pod = || {
        let _ = c.kubectl(&[
            "exec",
            "client",
            "--",
            "timeout",
            "2",
            "nslookup",
            "krust.test",
            &cluster_ip,
        ]);
    };
    assert!(
        received(b"krust", &from_pod),
        "nothing from a pod reached {gateway}:{port}"
    );
}

/// Whether a TCP connection to `host:port` opens within a second.
fn connects(host: &str, port: u16) -> bool {
    let addr = std::net::SocketAddr::new(host.parse().unwrap(), port);
    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

#[test]
fn a_local_load_balancer_answers_its_health_check_and_admits_only_its_source_ranges() {
    let leaks = leak_check();
    let c = cluster();
    let node_ip = node_ip(&c);
    let pods = web_deployment(&c, "1");
    let lb_port = free_port();
    apply(
        &c,
        &format!(
            "apiVersion: v1
kind: Service
metadata:
  name: web-local
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  loadBalancerSourceRanges: [{node_ip}/32]
  selector: {{app: web}}
  ports: [{{port: {lb_port}, targetPort: 8080}}]
"
        ),
    );
    let health: u16 = c
        .jsonpath(&["service", "web-local"], "{.spec.healthCheckNodePort}")
        .parse()
        .expect("a health check node port");

    // The node holds the one ready endpoint: 200, with kube-proxy's body.
    let check = || http_get_at("127.0.0.1", health, "/");
    assert!(
        true_within(Duration::from_secs(10), || {
            let a = check();
            a.starts_with("HTTP/1.1 200") && a.contains("\"localEndpoints\": 1")
        }),
        "health check on {health}: {:?}",
        std::panic::catch_unwind(check)
    );
    let body: serde_json::Value =
        serde_json::from_str(check().split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(
        body["service"],
        serde_json::json!({"namespace": "default", "name": "web-local"})
    );

    // A range holding the node admits it; one leaving it out drops its connections; with
    // no range left, anyone is admitted again.
    assert!(
        true_within(Duration::from_secs(10), || host_reaches(
            &node_ip, lb_port, 3, &pods
        )),
        "{node_ip}:{lb_port} admitting {node_ip}/32: {:?}",
        from_host(&node_ip, lb_port)
    );
    let ranges = r#"{"spec":{"loadBalancerSourceRanges":["198.51.100.0/24"]}}"#;
    c.ok(&["patch", "service", "web-local", "-p", ranges]);
    assert!(
        true_within(Duration::from_secs(10), || !connects(&node_ip, lb_port)),
        "{node_ip}:{lb_port} admitted a client outside 198.51.100.0/24"
    );
    let ranges = r#"{"spec":{"loadBalancerSourceRanges":null}}"#;
    c.ok(&["patch", "service", "web-local", "-p", ranges]);
    assert!(
        true_within(Duration::from_secs(10), || host_reaches(
            &node_ip, lb_port, 3, &pods
        )),
        "{node_ip}:{lb_port} without source ranges: {:?}",
        from_host(&node_ip, lb_port)
    );

    // No endpoint left on the node: 503 (the pod, terminating, is no longer ready).
    c.ok(&["scale", "deployment", "web", "--replicas", "0"]);
    assert!(
        true_within(ROLLOUT_TIMEOUT, || {
            let a = check();
            a.starts_with("HTTP/1.1 503") && a.contains("\"localEndpoints\": 0")
        }),
        "health check after scaling to 0: {:?}\n{}\n{}",
        std::panic::catch_unwind(check),
        c.ok(&["get", "pods,endpointslices", "-o", "wide"]),
        krust_e2e::tail(&c.server_stderr(), 30)
    );
    // Cluster policy: the port is given back and closed.
    c.ok(&[
        "patch",
        "service",
        "web-local",
        "-p",
        r#"{"spec":{"externalTrafficPolicy":"Cluster"}}"#,
    ]);
    assert_eq!(
        c.jsonpath(&["service", "web-local"], "{.spec.healthCheckNodePort}"),
        ""
    );
    assert!(
        true_within(Duration::from_secs(10), || !connects("127.0.0.1", health)),
        "the health check port {health} is still open"
    );
    assert_eq!(
        leaks.leaked(),
        0,
        "packets for the cluster's ranges left the host"
    );
}
