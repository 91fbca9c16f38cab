//! Node and pod metrics on a real node (root): the kubelet measures this host and its
//! containers, the API server serves `metrics.k8s.io` from it, and the real `kubectl top`
//! shows a busy container using CPU (held to its limit) and memory, with no metrics-server.
//! The kubelet's own `/stats/summary` and `/metrics/resource` are read through `nodes/proxy`.
//! The node reports the host's pressure conditions. The cluster's node is removed with its
//! containers when the test ends, passing or not (`Cluster`'s drop runs `krust killall`).

use krust_e2e::{ROLLOUT_TIMEOUT, true_within};
use std::time::Duration;

mod real_node_support;
use real_node_support::cluster;

/// How long metrics may take to appear: two readings a second apart, then the housekeeping.
const METRICS_TIMEOUT: Duration = Duration::from_secs(60);

/// A container that holds about 16 MB and spins, limited to 200m of CPU.
const BUSY: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: busy
  labels: {app: busy}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: spin
    image: krust.test/busybox:1
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "x=$(head -c 16000000 /dev/zero | tr '\\0' x); while :; do :; done"]
    resources:
      requests: {cpu: 200m, memory: 64Mi}
      limits: {cpu: 200m, memory: 64Mi}
"#;

/// The cells of the row of `kubectl top …` whose first column is `name`.
fn row(table: &str, name: &str) -> Option<Vec<String>> {
    table
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
        .find(|cells| cells.first().is_some_and(|n| n == name))
}

/// `123m` → 123, `2` → 2000.
fn millicores(cell: &str) -> u64 {
    match cell.strip_suffix('m') {
        Some(m) => m.parse().expect("millicores"),
        None => cell.parse::<u64>().expect("cores") * 1000,
    }
}

/// `45Mi` → 45.
fn mebibytes(cell: &str) -> u64 {
    cell.strip_suffix("Mi")
        .expect("Mi")
        .parse()
        .expect("mebibytes")
}

#[test]
fn kubectl_top_shows_a_busy_container_using_cpu_and_memory_without_metrics_server() {
    let c = cluster();
    let node = c.node_name();
    let manifest = c.write_file("busy.yaml", BUSY);
    c.ok(&["apply", "-f", manifest.to_str().expect("path")]);
    assert!(
        true_within(ROLLOUT_TIMEOUT, || c
            .jsonpath(&["pod", "busy"], "{.status.phase}")
            == "Running"),
        "{}",
        c.ok(&["describe", "pod", "busy"])
    );
    let versions = c.ok(&["api-versions"]);
    assert!(versions.contains("metrics.k8s.io/v1beta1"), "{versions}");

    // The node: its CPU and memory in use.
    let mut nodes = String::new();
    assert!(
        true_within(METRICS_TIMEOUT, || {
            nodes = c.kubectl(&["top", "nodes"]).stdout;
            row(&nodes, &node).is_some_and(|r| r.len() == 5 && r[1] != "<unknown>")
        }),
        "kubectl top nodes: {nodes}\n{}",
        c.server_stderr()
    );
    let cells = row(&nodes, &node).expect("the node's row");
    assert!(millicores(&cells[1]) > 0, "{nodes}");
    assert!(mebibytes(&cells[3]) > 0, "{nodes}");

    // The pod: the spinning container near its 200m limit, and its 16 MB.
    let mut busy = Vec::new();
    let mut pods = String::new();
    assert!(
        true_within(METRICS_TIMEOUT, || {
            pods = c.kubectl(&["top", "pods", "-l", "app=busy"]).stdout;
            match row(&pods, "busy") {
                Some(r) if millicores(&r[1]) >= 50 => {
                    busy = r;
                    true
                }
                _ => false,
            }
        }),
        "kubectl top pods: {pods}\n{}",
        c.server_stderr()
    );
    assert!(millicores(&busy[1]) <= 260, "over its limit: {pods}");
    assert!(mebibytes(&busy[2]) >= 10, "{pods}");
    let containers = c.ok(&["top", "pods", "busy", "--containers"]);
    assert!(containers.contains("spin"), "{containers}");
    eprintln!("kubectl top nodes:\n{nodes}kubectl top pods:\n{pods}--containers:\n{containers}");

    // The same from the API, and a pod that is not there.
    let raw = c.ok(&[
        "get",
        "--raw",
        "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/busy",
    ]);
    let metrics: serde_json::Value = serde_json::from_str(&raw).expect("PodMetrics JSON");
    assert_eq!(metrics["kind"], "PodMetrics");
    assert_eq!(metrics["containers"][0]["name"], "spin");
    let summary = c.ok(&[
        "get",
        "--raw",
        &format!("/api/v1/nodes/{node}/proxy/stats/summary"),
    ]);
    let summary: serde_json::Value = serde_json::from_str(&summary).expect("Summary JSON");
    assert_eq!(summary["node"]["nodeName"], node.as_str());
    assert!(summary["node"]["fs"]["capacityBytes"].as_u64() > Some(0));
    let pod = summary["pods"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["podRef"]["name"] == "busy"))
        .expect("the busy pod in the Summary");
    assert!(pod["containers"][0]["cpu"]["usageCoreNanoSeconds"].as_u64() > Some(0));
    let resource = c.ok(&[
        "get",
        "--raw",
        &format!("/api/v1/nodes/{node}/proxy/metrics/resource"),
    ]);
    assert!(
        resource.contains(
            "container_cpu_usage_seconds_total{container=\"spin\",namespace=\"default\",pod=\"busy\"}"
        ),
        "{resource}"
    );
    assert!(
        resource.contains("\nresource_scrape_error 0\n"),
        "{resource}"
    );
    let missing = c.fails(&["top", "pod", "nope"]);
    assert!(missing.contains("not found"), "{missing}");

    // The pressure conditions say what the host's Summary says, against the kubelet's
    // default thresholds (memory.available<100Mi, nodefs.available<10%).
    let fs = &summary["node"]["fs"];
    let free = |k: &str| fs[k].as_u64().expect("fs counters") as f64;
    let disk = free("availableBytes") < free("capacityBytes") * 0.10
        || free("inodesFree") < free("inodes") * 0.05;
    let memory = summary["node"]["memory"]["availableBytes"].as_u64() < Some(100 << 20);
    for (condition, expected) in [
        ("MemoryPressure", memory),
        ("DiskPressure", disk),
        ("PIDPressure", false),
    ] {
        let status = c.jsonpath(
            &["node", &node],
            &format!("{{.status.conditions[?(@.type==\"{condition}\")].status}}"),
        );
        let expected = if expected { "True" } else { "False" };
        assert_eq!(status, expected, "{condition}");
    }
    c.ok(&["delete", "pods", "--all", "--grace-period=1", "--wait=true"]);
}
