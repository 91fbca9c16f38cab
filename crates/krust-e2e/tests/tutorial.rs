//! The tutorial on a whole cluster: `krust server --sim-nodes 3` (scheduler, controllers and
//! three simulated nodes), driven by the real kubectl, checking what a user sees.

use krust_e2e::{Cluster, ROLLOUT_TIMEOUT, table, true_within};
use std::time::Duration;

fn cluster() -> Cluster {
    Cluster::start_with(&["--sim-nodes", "3", "--node-monitor-grace-period", "4s"])
}

#[test]
fn nodes_register_ready() {
    let c = cluster();
    assert!(true_within(ROLLOUT_TIMEOUT, || {
        let rows = table(&c.ok(&["get", "nodes", "--no-headers"]));
        rows.len() == 3 && rows.iter().all(|r| r[1] == "Ready")
    }));
}

#[test]
fn deployment_rolls_out_scales_updates_and_undoes() {
    let c = cluster();
    assert_eq!(
        c.ok(&["create", "deployment", "nginx-depl", "--image=nginx"])
            .trim(),
        "deployment.apps/nginx-depl created"
    );
    assert!(
        c.deployment_ready("nginx-depl", "1/1"),
        "the deployment never became 1/1"
    );

    c.ok(&["scale", "deployment", "nginx-depl", "--replicas=5"]);
    assert!(c.deployment_ready("nginx-depl", "5/5"));
    assert!(true_within(ROLLOUT_TIMEOUT, || {
        let p = c.pods("app=nginx-depl");
        p.len() == 5 && p.values().all(|p| p.phase == "Running")
    }));
    let nodes: std::collections::BTreeSet<String> = c
        .pods("app=nginx-depl")
        .values()
        .map(|p| p.node.clone())
        .collect();
    assert_eq!(
        nodes.len(),
        3,
        "five replicas spread over the three nodes: {nodes:?}"
    );

    // Availability never drops below replicas - maxUnavailable (5 - floor(25% of 5) = 4).
    let mut watch = c.kubectl_background(&[
        "get",
        "deploy",
        "nginx-depl",
        "-w",
        "-o",
        "jsonpath={.status.availableReplicas}{\"\\n\"}",
    ]);
    c.ok(&["set", "image", "deployment/nginx-depl", "nginx=nginx:1.25"]);
    let status = c.ok(&[
        "rollout",
        "status",
        "deployment/nginx-depl",
        "--timeout=60s",
    ]);
    assert!(
        status
            .trim_end()
            .ends_with("deployment \"nginx-depl\" successfully rolled out"),
        "{status}"
    );
    let mut seen = Vec::new();
    while let Some(line) = watch.try_next_line(Duration::from_millis(500)) {
        seen.push(line);
    }
    for line in seen.iter().filter(|l| !l.trim().is_empty()) {
        let available: u32 = line.trim().parse().unwrap_or(0);
        assert!(available >= 4, "availability fell to {available}: {seen:?}");
    }
    assert!(true_within(ROLLOUT_TIMEOUT, || {
        let p = c.pods("app=nginx-depl");
        p.len() == 5
            && p.values()
                .all(|p| p.phase == "Running" && p.image == "nginx:1.25")
    }));

    c.ok(&["rollout", "undo", "deployment/nginx-depl"]);
    c.ok(&[
        "rollout",
        "status",
        "deployment/nginx-depl",
        "--timeout=60s",
    ]);
    assert_eq!(
        c.jsonpath(
            &["deploy", "nginx-depl"],
            "{.spec.template.spec.containers[0].image}"
        ),
        "nginx"
    );

    c.ok(&["delete", "deployment", "nginx-depl"]);
    assert!(true_within(ROLLOUT_TIMEOUT, || {
        c.ok(&["get", "rs,pods", "-l", "app=nginx-depl", "-o", "name"])
            .trim()
            .is_empty()
    }));
}

#[test]
fn deleting_a_namespace_empties_it() {
    let c = cluster();
    c.ok(&["create", "namespace", "team-a"]);
    c.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx",
        "--replicas=2",
        "-n",
        "team-a",
    ]);
    c.ok(&[
        "create",
        "configmap",
        "settings",
        "--from-literal=a=b",
        "-n",
        "team-a",
    ]);
    c.ok(&["delete", "namespace", "team-a", "--timeout=60s"]);
    let err = c.fails(&["get", "namespace", "team-a"]);
    assert!(err.contains("namespaces \"team-a\" not found"), "{err}");
}

#[test]
fn a_stopped_node_goes_not_ready_and_its_pods_move() {
    let c = cluster();
    let manifest = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      containers:
      - {name: web, image: nginx}
"#;
    let file = c.write_file("web.yaml", manifest);
    c.ok(&["apply", "-f", file.to_str().unwrap()]);
    assert!(c.deployment_ready("web", "3/3"));
    let victim = c.pods("app=web").values().next().unwrap().node.clone();
    c.ok(&["annotate", "node", &victim, "sim.krust.dev/stopped=true"]);
    assert!(
        true_within(ROLLOUT_TIMEOUT, || {
            let rows = table(&c.ok(&["get", "node", &victim, "--no-headers"]));
            rows[0][1] == "NotReady"
        }),
        "{victim} never went NotReady"
    );
    assert!(
        true_within(ROLLOUT_TIMEOUT, || {
            let p = c.pods("app=web");
            p.values()
                .filter(|p| p.phase == "Running" && p.node != victim)
                .count()
                == 3
        }),
        "the pods were not recreated elsewhere: {:?}",
        c.pods("app=web")
    );
}

#[test]
fn a_pod_too_big_for_any_node_stays_pending_with_the_reason() {
    let c = cluster();
    c.ok(&["run", "huge", "--image=nginx", "--overrides", r#"{"spec":{"containers":[{"name":"huge","image":"nginx","resources":{"requests":{"cpu":"100"}}}]}}"#]);
    assert!(true_within(ROLLOUT_TIMEOUT, || {
        c.ok(&["describe", "pod", "huge"])
            .contains("0/3 nodes are available: 3 Insufficient cpu.")
    }));
    let rows = table(&c.ok(&["get", "pod", "huge", "--no-headers"]));
    assert_eq!(rows[0][2], "Pending");
}
