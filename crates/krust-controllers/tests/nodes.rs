//! Node IPAM and node lifecycle against an in-process API server. No kubelet runs: the
//! tests create Nodes and Leases themselves and renew (or stop renewing) the Leases.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use krust_controllers::informers::Informers;
use krust_controllers::node_lifecycle::{self, Options};
use krust_testkit::{create, eventually, pod_json, set_pod_status, spawn};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};

async fn node(client: &Client, name: &str, extra_spec: Value) -> Node {
    let api: Api<Node> = Api::all(client.clone());
    let node: Node =
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": extra_spec})).unwrap();
    api.create(&PostParams::default(), &node).await.unwrap()
}

fn pod_cidr(n: &Node) -> Option<String> {
    n.spec.as_ref()?.pod_cidr.clone()
}

#[tokio::test]
async fn ipam_assigns_distinct_cidrs_and_reuses_freed_ones() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    // One node already has a CIDR when the controller starts: it must not be handed out.
    node(
        &client,
        "old",
        json!({"podCIDR": "10.42.0.0/24", "podCIDRs": ["10.42.0.0/24"]}),
    )
    .await;
    let _ctl = spawn(
        "node_ipam",
        krust_controllers::node_ipam::run(client.clone()),
    );
    for n in ["a", "b", "c"] {
        node(&client, n, json!({})).await;
    }
    let api: Api<Node> = Api::all(client.clone());
    let nodes = eventually(Duration::from_secs(10), "every node has a CIDR", || async {
        let list = api.list(&ListParams::default()).await.unwrap().items;
        list.iter().all(|n| pod_cidr(n).is_some()).then_some(list)
    })
    .await;
    let cidrs: HashSet<String> = nodes.iter().filter_map(pod_cidr).collect();
    assert_eq!(
        cidrs,
        HashSet::from(
            [
                "10.42.0.0/24",
                "10.42.1.0/24",
                "10.42.2.0/24",
                "10.42.3.0/24"
            ]
            .map(String::from)
        )
    );
    for n in &nodes {
        let spec = n.spec.as_ref().unwrap();
        assert_eq!(spec.pod_cidrs.as_deref(), Some(&[pod_cidr(n).unwrap()][..]));
    }
    assert_eq!(
        pod_cidr(&api.get("old").await.unwrap()).as_deref(),
        Some("10.42.0.0/24")
    );

    // A deleted node's CIDR goes to the next node.
    let freed = pod_cidr(&api.get("b").await.unwrap()).unwrap();
    api.delete("b", &DeleteParams::default()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    node(&client, "d", json!({})).await;
    let got = eventually(Duration::from_secs(10), "d has a CIDR", || async {
        pod_cidr(&api.get("d").await.unwrap())
    })
    .await;
    assert_eq!(got, freed);
}

fn fast() -> Options {
    Options {
        grace_period: Duration::from_secs(1),
        startup_grace_period: Duration::from_secs(2),
        monitor_period: Duration::from_millis(100),
        eviction_check_interval: Duration::from_millis(100),
    }
}

/// A node posting Ready (as a kubelet would), with its Lease.
async fn live_node(client: &Client, name: &str) {
    node(client, name, json!({})).await;
    post_ready(client, name, "True").await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": 40,
                 "renewTime": jiff::Timestamp::now().to_string()}
    }))
    .unwrap();
    leases.create(&PostParams::default(), &lease).await.unwrap();
}

async fn post_ready(client: &Client, name: &str, ready: &str) {
    let api: Api<Node> = Api::all(client.clone());
    let now = jiff::Timestamp::now().to_string();
    let cond = |t: &str, s: &str| {
        json!({"type": t, "status": s, "reason": "Kubelet",
        "lastHeartbeatTime": now, "lastTransitionTime": now})
    };
    let patch = json!({"status": {"conditions": [
        cond("Ready", ready),
        cond("MemoryPressure", "False"),
        cond("DiskPressure", "False"),
        cond("PIDPressure", "False"),
    ]}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

async fn renew(client: &Client, name: &str) {
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let patch = json!({"spec": {"renewTime": jiff::Timestamp::now().to_string()}});
    leases
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

/// Renews `name`'s Lease every 200 ms while the handle lives.
fn heartbeat(client: &Client, name: &'static str) -> tokio::task::JoinHandle<()> {
    let client = client.clone();
    tokio::spawn(async move {
        loop {
            renew(&client, name).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

fn condition(n: &Node, t: &str) -> Option<(String, Option<String>, Option<String>)> {
    n.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == t)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

fn taints(n: &Node) -> Vec<(String, String)> {
    let mut t: Vec<(String, String)> = n
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.key, t.effect))
        .collect();
    t.sort();
    t
}

fn pod_ready(p: &Pod) -> Option<String> {
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.clone())
}

async fn tolerating_pod(client: &Client, name: &str, node: &str, seconds: Option<i64>) {
    let mut pod = pod_json(name, json!({"app": name}), Some(node));
    if let Some(s) = seconds {
        pod["spec"]["tolerations"] = json!([{"key": "node.kubernetes.io/unreachable",
            "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": s}]);
    }
    let _: Pod = create(client, "default", pod).await;
    set_pod_status(client, "default", name, "10.42.0.9", true).await;
}

#[tokio::test]
async fn a_silent_node_becomes_unknown_tainted_and_its_pods_are_evicted() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    live_node(&client, "silent").await;
    live_node(&client, "alive").await;
    let _beat = heartbeat(&client, "alive");
    tolerating_pod(&client, "now", "silent", Some(0)).await;
    tolerating_pod(&client, "soon", "silent", Some(2)).await;
    tolerating_pod(&client, "later", "silent", None).await; // the default 300 s
    tolerating_pod(&client, "elsewhere", "alive", Some(0)).await;
    let started = Instant::now();
    let _ctl = spawn(
        "node_lifecycle",
        node_lifecycle::run_with(Informers::new(client.clone()), fast()),
    );

    let nodes: Api<Node> = Api::all(client.clone());
    let n = eventually(
        Duration::from_secs(10),
        "silent node unknown and tainted",
        || async {
            let n = nodes.get("silent").await.unwrap();
            (taints(&n).len() == 2).then_some(n)
        },
    )
    .await;
    let tainted_after = started.elapsed();
    assert!(tainted_after >= Duration::from_secs(1), "{tainted_after:?}");
    for t in ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"] {
        assert_eq!(
            condition(&n, t),
            Some((
                "Unknown".into(),
                Some("NodeStatusUnknown".into()),
                Some("Kubelet stopped posting node status.".into())
            )),
            "{t}"
        );
    }
    assert_eq!(
        taints(&n),
        [
            ("node.kubernetes.io/unreachable".into(), "NoExecute".into()),
            ("node.kubernetes.io/unreachable".into(), "NoSchedule".into())
        ]
    );
    let timed = n.spec.unwrap().taints.unwrap();
    assert!(
        timed
            .iter()
            .find(|t| t.effect == "NoExecute")
            .unwrap()
            .time_added
            .is_some()
    );

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let deleting = |p: &Pod| p.metadata.deletion_timestamp.is_some();
    // Not tolerating the taint for any time: evicted at once.
    let evicted = eventually(Duration::from_secs(5), "pod 'now' evicted", || async {
        Some(pods.get("now").await.unwrap()).filter(deleting)
    })
    .await;
    let disruption = evicted
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "DisruptionTarget");
    assert_eq!(
        disruption.map(|c| c.reason),
        Some(Some("DeletionByTaintManager".into()))
    );
    // The others are marked not ready.
    for name in ["soon", "later"] {
        eventually(
            Duration::from_secs(5),
            &format!("pod {name} not ready"),
            || async {
                let p = pods.get(name).await.unwrap();
                (pod_ready(&p).as_deref() == Some("False")).then_some(())
            },
        )
        .await;
    }
    assert!(!deleting(&pods.get("soon").await.unwrap()), "too early");
    // Two seconds of toleration, counted from the taint.
    eventually(Duration::from_secs(6), "pod 'soon' evicted", || async {
        Some(pods.get("soon").await.unwrap()).filter(deleting)
    })
    .await;
    assert!(started.elapsed() >= tainted_after + Duration::from_millis(1500));
    assert!(
        !deleting(&pods.get("later").await.unwrap()),
        "300 s not over"
    );
    // The live node and its pod are left alone.
    let alive = nodes.get("alive").await.unwrap();
    assert!(taints(&alive).is_empty());
    assert_eq!(condition(&alive, "Ready").unwrap().0, "True");
    let elsewhere = pods.get("elsewhere").await.unwrap();
    assert!(!deleting(&elsewhere));
    assert_eq!(pod_ready(&elsewhere).as_deref(), Some("True"));

    // What `kubectl describe node` shows.
    let events: Api<Event> = Api::all(client.clone());
    let reasons: Vec<(String, String)> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|e| Some((e.reason?, e.involved_object.name?)))
        .collect();
    assert!(
        reasons.contains(&("NodeNotReady".into(), "silent".into())),
        "{reasons:?}"
    );
    assert!(reasons.contains(&("TaintManagerEviction".into(), "now".into())));

    // The kubelet comes back: heartbeats and Ready again; the taints go.
    let _beat2 = heartbeat(&client, "silent");
    post_ready(&client, "silent", "True").await;
    eventually(Duration::from_secs(5), "taints removed", || async {
        let n = nodes.get("silent").await.unwrap();
        taints(&n).is_empty().then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let n = nodes.get("silent").await.unwrap();
    assert_eq!(
        condition(&n, "Ready").unwrap().0,
        "True",
        "heartbeats keep it up"
    );
    assert!(taints(&n).is_empty());
}

#[tokio::test]
async fn not_ready_and_custom_no_execute_taints() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    live_node(&client, "n").await;
    let _beat = heartbeat(&client, "n");
    let _ctl = spawn(
        "node_lifecycle",
        node_lifecycle::run_with(Informers::new(client.clone()), fast()),
    );
    let nodes: Api<Node> = Api::all(client.clone());

    // The kubelet itself reports NotReady: not-ready taints.
    post_ready(&client, "n", "False").await;
    eventually(Duration::from_secs(5), "not-ready taints", || async {
        let n = nodes.get("n").await.unwrap();
        (taints(&n)
            == [
                (
                    "node.kubernetes.io/not-ready".to_string(),
                    "NoExecute".to_string(),
                ),
                ("node.kubernetes.io/not-ready".into(), "NoSchedule".into()),
            ])
        .then_some(())
    })
    .await;
    post_ready(&client, "n", "True").await;
    eventually(Duration::from_secs(5), "taints removed", || async {
        taints(&nodes.get("n").await.unwrap())
            .is_empty()
            .then_some(())
    })
    .await;

    // A NoExecute taint of the user's: pods not tolerating it go at once, others stay.
    let mut tolerant = pod_json("tolerant", json!({}), Some("n"));
    tolerant["spec"]["tolerations"] =
        json!([{"key": "example.com/drain", "operator": "Exists", "effect": "NoExecute"}]);
    let _: Pod = create(&client, "default", tolerant).await;
    let _: Pod = create(&client, "default", pod_json("plain", json!({}), Some("n"))).await;
    let patch = json!({"spec": {"taints": [{"key": "example.com/drain", "effect": "NoExecute"}]}});
    nodes
        .patch("n", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    eventually(Duration::from_secs(5), "plain evicted", || async {
        let p = pods.get("plain").await.unwrap();
        p.metadata.deletion_timestamp.map(|_| ())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = pods.get("tolerant").await.unwrap();
    assert!(t.metadata.deletion_timestamp.is_none());
    // The user's taint is not the controller's to remove.
    assert_eq!(
        taints(&nodes.get("n").await.unwrap()),
        [("example.com/drain".to_string(), "NoExecute".to_string())]
    );
    assert_eq!(t.name_any(), "tolerant");
}

#[tokio::test]
async fn a_node_that_never_posts_status_becomes_unknown() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    node(&client, "mute", json!({})).await;
    let _ctl = spawn(
        "node_lifecycle",
        node_lifecycle::run_with(Informers::new(client.clone()), fast()),
    );
    let nodes: Api<Node> = Api::all(client.clone());
    let n = eventually(Duration::from_secs(10), "mute node unknown", || async {
        let n = nodes.get("mute").await.unwrap();
        (taints(&n).len() == 2).then_some(n)
    })
    .await;
    assert_eq!(
        condition(&n, "Ready"),
        Some((
            "Unknown".into(),
            Some("NodeStatusNeverUpdated".into()),
            Some("Kubelet never posted node status.".into())
        ))
    );
}
