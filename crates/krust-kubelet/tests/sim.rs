//! Sim nodes against an in-process API server.

use krust_testkit::eventually;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use krust_kubelet::sim::{STOPPED_ANNOTATION, SimNodes, SimOptions};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::{Client, ResourceExt};
use serde_json::json;

fn opts(count: usize) -> SimOptions {
    SimOptions {
        count,
        lease_interval: Duration::from_millis(200),
        status_interval: Duration::from_millis(500),
        ..Default::default()
    }
}

/// Plays the node IPAM controller: podCIDR 10.42.<i>.0/24 for node i.
async fn assign_cidrs(client: &Client, names: &[String]) {
    let nodes: Api<Node> = Api::all(client.clone());
    for (i, n) in names.iter().enumerate() {
        let patch = json!({"spec": {"podCIDR": format!("10.42.{i}.0/24"), "podCIDRs": [format!("10.42.{i}.0/24")]}});
        nodes
            .patch(n, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .unwrap();
    }
}

fn pod(name: &str, node: &str, annotations: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"nodeName": node, "containers": [{"name": "nginx", "image": "nginx"}]},
    }))
    .unwrap()
}

/// A server, `nodes` sim nodes with pod CIDRs, and the pods of `default`.
async fn with_pods(nodes: usize) -> (krust_testkit::TestServer, SimNodes, Api<Pod>) {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let sim = SimNodes::start(client.clone(), opts(nodes)).await.unwrap();
    assign_cidrs(&client, &sim.names()).await;
    let pods = Api::namespaced(client, "default");
    (server, sim, pods)
}

/// Creates pod `name` on `node`.
async fn create(pods: &Api<Pod>, name: &str, node: &str, annotations: serde_json::Value) {
    pods.create(&PostParams::default(), &pod(name, node, annotations))
        .await
        .unwrap();
}

async fn running(pods: &Api<Pod>, name: &str) -> Pod {
    eventually(Duration::from_secs(10), "a Running pod", || async {
        let p = pods.get(name).await.ok()?;
        (p.status.as_ref()?.phase.as_deref() == Some("Running")).then_some(p)
    })
    .await
}

fn condition<'a>(p: &'a Pod, type_: &str) -> Option<&'a str> {
    let c = p.status.as_ref()?.conditions.as_ref()?;
    c.iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.as_str())
}

#[tokio::test]
async fn nodes_register_ready_with_capacity_and_leases() {
    let server = krust_testkit::start().await;
    let sim = SimNodes::start(server.client.clone(), opts(3))
        .await
        .unwrap();
    assert_eq!(sim.names(), ["sim-node-0", "sim-node-1", "sim-node-2"]);
    let nodes: Api<Node> = Api::all(server.client.clone());
    let list = nodes
        .list(&ListParams::default().labels("type=sim"))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 3);
    for n in &list.items {
        let labels = n.labels();
        assert_eq!(labels["kubernetes.io/hostname"], n.name_any());
        assert_eq!(labels["kubernetes.io/os"], "linux");
        assert_eq!(labels["kubernetes.io/arch"], "amd64");
        let status = n.status.as_ref().unwrap();
        let cap = status.capacity.as_ref().unwrap();
        assert_eq!(cap["cpu"].0, "4");
        assert_eq!(cap["memory"].0, "16Gi");
        assert_eq!(cap["pods"].0, "110");
        assert_eq!(status.allocatable.as_ref().unwrap()["pods"].0, "110");
        let ready = status
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_deref()),
            ("True", Some("KubeletReady"))
        );
        let info = status.node_info.as_ref().unwrap();
        assert_eq!(info.kubelet_version, "v1.32.4-krust");
        assert_eq!(info.container_runtime_version, "sim://1.0");
        let addresses = status.addresses.as_ref().unwrap();
        assert!(
            addresses
                .iter()
                .any(|a| a.type_ == "InternalIP" && a.address.starts_with("127.31."))
        );
        assert!(
            addresses
                .iter()
                .any(|a| a.type_ == "Hostname" && a.address == n.name_any())
        );
    }
    let leases: Api<Lease> = Api::namespaced(server.client.clone(), "kube-node-lease");
    for name in sim.names() {
        let lease = leases.get(&name).await.unwrap();
        let spec = lease.spec.as_ref().unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some(name.as_str()));
        assert_eq!(spec.lease_duration_seconds, Some(40));
        assert_eq!(lease.owner_references()[0].kind, "Node");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn leases_and_status_renew_until_the_node_stops() {
    let server = krust_testkit::start().await;
    let sim = SimNodes::start(server.client.clone(), opts(3))
        .await
        .unwrap();
    let leases: Api<Lease> = Api::namespaced(server.client.clone(), "kube-node-lease");
    let nodes: Api<Node> = Api::all(server.client.clone());
    let renew_time = |name: &'static str| {
        let leases = leases.clone();
        async move {
            leases
                .get(name)
                .await
                .unwrap()
                .spec
                .unwrap()
                .renew_time
                .unwrap()
                .0
        }
    };
    let heartbeat = |name: &'static str| {
        let nodes = nodes.clone();
        async move {
            let n = nodes.get(name).await.unwrap();
            let conditions = n.status.unwrap().conditions.unwrap();
            let ready = conditions.into_iter().find(|c| c.type_ == "Ready").unwrap();
            ready.last_heartbeat_time.unwrap().0
        }
    };
    let first = renew_time("sim-node-1").await;
    let beat = heartbeat("sim-node-1").await;
    eventually(Duration::from_secs(3), "a renewed lease", || async {
        (renew_time("sim-node-1").await > first).then_some(())
    })
    .await;
    eventually(Duration::from_secs(4), "a newer node heartbeat", || async {
        (heartbeat("sim-node-1").await > beat).then_some(())
    })
    .await;
    // Renewals do not send managedFields back; the stored ones stay.
    let renewed = leases.get("sim-node-1").await.unwrap();
    let managers: Vec<_> = renewed
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(
        !managers.is_empty(),
        "a renewed lease lost its managedFields"
    );

    sim.stop("sim-node-1").await.unwrap();
    assert!(sim.stop("no-such-node").await.is_err());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (stopped_lease, stopped_beat) = (
        renew_time("sim-node-1").await,
        heartbeat("sim-node-1").await,
    );
    let other = renew_time("sim-node-2").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        renew_time("sim-node-1").await,
        stopped_lease,
        "a stopped node renewed its lease"
    );
    assert_eq!(
        heartbeat("sim-node-1").await,
        stopped_beat,
        "a stopped node posted its status"
    );
    assert!(
        renew_time("sim-node-2").await > other,
        "a live node stopped renewing"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_node_annotated_stopped_stops_renewing_its_lease() {
    let server = krust_testkit::start().await;
    let sim = SimNodes::start(server.client.clone(), opts(2))
        .await
        .unwrap();
    let leases: Api<Lease> = Api::namespaced(server.client.clone(), "kube-node-lease");
    let nodes: Api<Node> = Api::all(server.client.clone());
    let renew_time = |name: &'static str| {
        let leases = leases.clone();
        async move {
            let lease = leases.get(name).await.unwrap();
            lease.spec.unwrap().renew_time.unwrap().0
        }
    };
    let annotation = json!({"metadata": {"annotations": {STOPPED_ANNOTATION: "true"}}});
    nodes
        .patch(
            "sim-node-0",
            &PatchParams::default(),
            &Patch::Merge(annotation),
        )
        .await
        .unwrap();
    // Stopped once the watch sees it: two renewal intervals without a renewal.
    let stopped = eventually(
        Duration::from_secs(5),
        "the lease stops renewing",
        || async {
            let before = renew_time("sim-node-0").await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            (renew_time("sim-node-0").await == before).then_some(before)
        },
    )
    .await;
    let other = renew_time("sim-node-1").await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        renew_time("sim-node-0").await,
        stopped,
        "an annotated node renewed its lease"
    );
    assert!(
        renew_time("sim-node-1").await > other,
        "the other node stopped renewing"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn pods_run_with_ips_and_go_away_when_deleted() {
    let (server, sim, pods) = with_pods(3).await;
    let client = server.client.clone();
    create(&pods, "web-0", "sim-node-1", json!({})).await;
    create(&pods, "web-1", "sim-node-1", json!({})).await;
    let p = running(&pods, "web-0").await;
    let status = p.status.as_ref().unwrap();
    assert_eq!(status.host_ip.as_deref(), Some("127.31.0.3"));
    assert_eq!(status.pod_ip.as_deref(), Some("10.42.1.2"));
    assert_eq!(status.pod_ips.as_ref().unwrap()[0].ip, "10.42.1.2");
    assert!(status.start_time.is_some());
    for c in [
        "PodReadyToStartContainers",
        "Initialized",
        "ContainersReady",
        "Ready",
        "PodScheduled",
    ] {
        assert_eq!(condition(&p, c), Some("True"), "{c}");
    }
    let cs = &status.container_statuses.as_ref().unwrap()[0];
    assert_eq!(
        (cs.name.as_str(), cs.ready, cs.started, cs.restart_count),
        ("nginx", true, Some(true), 0)
    );
    assert_eq!(cs.image, "docker.io/library/nginx:latest");
    assert!(cs.image_id.starts_with("sim://sha256:"));
    assert!(cs.container_id.as_deref().unwrap().starts_with("sim://"));
    assert!(
        cs.state
            .as_ref()
            .unwrap()
            .running
            .as_ref()
            .unwrap()
            .started_at
            .is_some()
    );
    let other = running(&pods, "web-1").await;
    assert_eq!(other.status.unwrap().pod_ip.as_deref(), Some("10.42.1.3"));

    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let reasons = eventually(Duration::from_secs(5), "the kubelet's events", || async {
        let fields = format!(
            "involvedObject.name=web-0,involvedObject.uid={}",
            p.uid().unwrap()
        );
        let list = events
            .list(&ListParams::default().fields(&fields))
            .await
            .ok()?;
        let mut reasons: Vec<_> = list
            .items
            .iter()
            .map(|e| e.reason.clone().unwrap())
            .collect();
        reasons.sort();
        (reasons.len() == 4).then_some((reasons, list.items))
    })
    .await;
    assert_eq!(reasons.0, ["Created", "Pulled", "Pulling", "Started"]);
    let e = &reasons.1[0];
    assert_eq!(
        e.source.as_ref().unwrap().component.as_deref(),
        Some("kubelet")
    );
    assert_eq!(
        e.source.as_ref().unwrap().host.as_deref(),
        Some("sim-node-1")
    );
    assert_eq!(
        e.involved_object.field_path.as_deref(),
        Some("spec.containers{nginx}")
    );

    let since = Instant::now();
    pods.delete("web-0", &DeleteParams::default())
        .await
        .unwrap();
    eventually(Duration::from_secs(3), "the pod gone", || async {
        pods.get_opt("web-0").await.unwrap().is_none().then_some(())
    })
    .await;
    assert!(
        since.elapsed() < Duration::from_secs(2),
        "{:?}",
        since.elapsed()
    );
    // The freed address is handed out again only after the others.
    create(&pods, "web-2", "sim-node-1", json!({})).await;
    assert_eq!(
        running(&pods, "web-2")
            .await
            .status
            .unwrap()
            .pod_ip
            .as_deref(),
        Some("10.42.1.4")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn termination_seconds_keep_a_pod_terminating_and_end_terminated() {
    let (_server, sim, pods) = with_pods(1).await;
    let annotations = json!({"sim.krust.dev/termination-seconds": "2"});
    create(&pods, "slow", "sim-node-0", annotations).await;
    let p = running(&pods, "slow").await;
    let mut watch = pods
        .watch(
            &WatchParams::default().fields("metadata.name=slow"),
            &p.resource_version().unwrap(),
        )
        .await
        .unwrap()
        .boxed();
    let since = Instant::now();
    pods.delete("slow", &DeleteParams::default()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let terminating = pods.get("slow").await.unwrap();
    assert!(terminating.metadata.deletion_timestamp.is_some());
    assert_eq!(
        terminating.status.as_ref().unwrap().phase.as_deref(),
        Some("Running")
    );
    // Seen through the watch: still Running, then terminated (Succeeded, not ready), then gone.
    let mut seen_terminated = false;
    let gone = tokio::time::timeout(Duration::from_secs(6), async {
        while let Some(ev) = watch.next().await {
            match ev.unwrap() {
                WatchEvent::Modified(p)
                    if p.status.as_ref().unwrap().phase.as_deref() == Some("Succeeded") =>
                {
                    let cs = &p
                        .status
                        .as_ref()
                        .unwrap()
                        .container_statuses
                        .as_ref()
                        .unwrap()[0];
                    let t = cs.state.as_ref().unwrap().terminated.as_ref().unwrap();
                    assert_eq!((t.exit_code, t.reason.as_deref()), (0, Some("Completed")));
                    assert_eq!(condition(&p, "Ready"), Some("False"));
                    seen_terminated = true;
                }
                WatchEvent::Deleted(_) => return since.elapsed(),
                _ => {}
            }
        }
        panic!("the watch ended");
    })
    .await
    .expect("the pod deleted in time");
    assert!(seen_terminated, "no terminated status before the deletion");
    assert!(
        gone >= Duration::from_millis(1900) && gone < Duration::from_secs(4),
        "{gone:?}"
    );

    // A grace period shorter than the annotation wins.
    create(
        &pods,
        "quick",
        "sim-node-0",
        json!({"sim.krust.dev/termination-seconds": "30"}),
    )
    .await;
    running(&pods, "quick").await;
    let since = Instant::now();
    pods.delete("quick", &DeleteParams::default().grace_period(1))
        .await
        .unwrap();
    eventually(Duration::from_secs(4), "the pod gone", || async {
        pods.get_opt("quick").await.unwrap().is_none().then_some(())
    })
    .await;
    assert!(
        since.elapsed() >= Duration::from_millis(900),
        "{:?}",
        since.elapsed()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn pod_ips_wait_for_the_pod_cidr_then_fall_back() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let opts = SimOptions {
        pod_cidr_wait: Duration::from_secs(2),
        ..opts(2)
    };
    let sim = SimNodes::start(client.clone(), opts).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    create(&pods, "late", "sim-node-0", json!({})).await;
    create(&pods, "none", "sim-node-1", json!({})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        pods.get("late")
            .await
            .unwrap()
            .status
            .unwrap()
            .phase
            .as_deref(),
        Some("Pending")
    );
    let nodes: Api<Node> = Api::all(client.clone());
    let patch = json!({"spec": {"podCIDR": "10.42.7.0/24"}});
    nodes
        .patch("sim-node-0", &PatchParams::default(), &Patch::Merge(patch))
        .await
        .unwrap();
    assert_eq!(
        running(&pods, "late")
            .await
            .status
            .unwrap()
            .pod_ip
            .as_deref(),
        Some("10.42.7.2")
    );
    // No podCIDR for sim-node-1: after the wait, the fallback range 10.42.<index>.0/24.
    assert_eq!(
        running(&pods, "none")
            .await
            .status
            .unwrap()
            .pod_ip
            .as_deref(),
        Some("10.42.1.2")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn ephemeral_containers_are_reported_running_once_added_with_their_events() {
    let (_server, sim, pods) = with_pods(1).await;
    create(&pods, "debugged", "sim-node-0", json!({})).await;
    running(&pods, "debugged").await;
    let add = |name: &str| {
        json!({"spec": {"ephemeralContainers": [
            {"name": name, "image": "busybox:1.36", "targetContainerName": "nginx"}]}})
    };
    for name in ["dbg", "dbg2"] {
        pods.patch_ephemeral_containers(
            "debugged",
            &PatchParams::default(),
            &Patch::Strategic(add(name)),
        )
        .await
        .unwrap();
    }
    let statuses = eventually(
        Duration::from_secs(10),
        "two ephemeral statuses",
        || async {
            let p = pods.get("debugged").await.ok()?;
            let list = p.status?.ephemeral_container_statuses?;
            (list.len() == 2).then_some(list)
        },
    )
    .await;
    for s in &statuses {
        assert!(s.state.as_ref().unwrap().running.is_some(), "{s:?}");
        assert!(
            !s.ready && s.restart_count == 0 && s.started.is_none(),
            "{s:?}"
        );
    }
    let events: Api<Event> = Api::namespaced(pods.clone().into_client(), "default");
    eventually(Duration::from_secs(10), "the Started Events", || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        let started = list.items.iter().filter(|e| {
            e.reason.as_deref() == Some("Started")
                && e.involved_object
                    .field_path
                    .as_deref()
                    .is_some_and(|f| f.starts_with("spec.ephemeralContainers{dbg"))
        });
        (started.count() == 2).then_some(())
    })
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn readiness_probes_delay_readiness() {
    let (_server, sim, pods) = with_pods(1).await;
    let p: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probed"},
        "spec": {"nodeName": "sim-node-0", "containers": [
            {"name": "app", "image": "nginx:1.27",
             "readinessProbe": {"initialDelaySeconds": 2, "httpGet": {"path": "/", "port": 80}}},
            {"name": "side", "image": "busybox:1.36"}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &p).await.unwrap();
    let p = running(&pods, "probed").await;
    assert_eq!(condition(&p, "Ready"), Some("False"));
    let ready = |p: &Pod| -> Vec<bool> {
        p.status
            .as_ref()
            .unwrap()
            .container_statuses
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| c.ready)
            .collect()
    };
    assert_eq!(ready(&p), [false, true]);
    let ready_condition = p.status.as_ref().unwrap().conditions.as_ref().unwrap();
    let r = ready_condition.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(r.reason.as_deref(), Some("ContainersNotReady"));
    assert_eq!(
        r.message.as_deref(),
        Some("containers with unready status: [app]")
    );
    let p = eventually(Duration::from_secs(4), "a ready pod", || async {
        let p = pods.get("probed").await.ok()?;
        (condition(&p, "Ready") == Some("True")).then_some(p)
    })
    .await;
    assert_eq!(ready(&p), [true, true]);
    let r = p
        .status
        .as_ref()
        .unwrap()
        .conditions
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.type_ == "Ready")
        .cloned();
    assert_eq!(
        r.unwrap().reason,
        None,
        "the reason of the earlier not-ready condition stayed"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_stopped_node_leaves_its_pods_alone() {
    let (_server, sim, pods) = with_pods(2).await;
    create(&pods, "before", "sim-node-0", json!({})).await;
    running(&pods, "before").await;
    sim.stop("sim-node-0").await.unwrap();
    create(&pods, "after", "sim-node-0", json!({})).await;
    pods.delete("before", &DeleteParams::default())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = pods.get("after").await.unwrap();
    assert_eq!(after.status.unwrap().phase.as_deref(), Some("Pending"));
    let before = pods.get("before").await.unwrap();
    assert!(before.metadata.deletion_timestamp.is_some());
    assert_eq!(before.status.unwrap().phase.as_deref(), Some("Running"));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_restarted_sim_takes_its_nodes_and_pods_over() {
    let (server, sim, pods) = with_pods(1).await;
    let client = server.client.clone();
    create(&pods, "kept", "sim-node-0", json!({})).await;
    running(&pods, "kept").await;
    sim.shutdown().await;

    let nodes: Api<Node> = Api::all(client.clone());
    let down = json!({"status": {"conditions": [{"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown"}]}});
    nodes
        .patch_status(
            "sim-node-0",
            &PatchParams::default(),
            &Patch::Strategic(down),
        )
        .await
        .unwrap();
    let sim = SimNodes::start(client.clone(), opts(1)).await.unwrap();
    let node = nodes.get("sim-node-0").await.unwrap();
    let ready = node
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.status, "True");
    assert_eq!(
        node.spec.unwrap().pod_cidr.as_deref(),
        Some("10.42.0.0/24"),
        "the podCIDR was kept"
    );
    // The running pod keeps its address; a new one gets the next.
    pods.create(&PostParams::default(), &pod("new", "sim-node-0", json!({})))
        .await
        .unwrap();
    assert_eq!(
        running(&pods, "new")
            .await
            .status
            .unwrap()
            .pod_ip
            .as_deref(),
        Some("10.42.0.3")
    );
    pods.delete("kept", &DeleteParams::default()).await.unwrap();
    eventually(
        Duration::from_secs(3),
        "the adopted pod deleted",
        || async { pods.get_opt("kept").await.unwrap().is_none().then_some(()) },
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn node_status_is_reposted_when_someone_else_changes_ready() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let opts = SimOptions {
        status_interval: Duration::from_secs(60),
        ..opts(1)
    };
    let sim = SimNodes::start(client.clone(), opts).await.unwrap();
    let nodes: Api<Node> = Api::all(client.clone());
    let down = json!({"status": {"conditions": [{"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
        "message": "Kubelet stopped posting node status."}]}});
    nodes
        .patch_status(
            "sim-node-0",
            &PatchParams::default(),
            &Patch::Strategic(down),
        )
        .await
        .unwrap();
    let ready = eventually(Duration::from_secs(3), "Ready again", || async {
        let n = nodes.get("sim-node-0").await.ok()?;
        let c = n
            .status?
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "Ready")?;
        (c.status == "True").then_some(c)
    })
    .await;
    assert_eq!(ready.reason.as_deref(), Some("KubeletReady"));
    assert_eq!(
        ready.message.as_deref(),
        Some("kubelet is posting ready status")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn many_nodes_share_one_pod_watcher() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let opts = SimOptions {
        pod_cidr_wait: Duration::from_millis(100),
        ..opts(50)
    };
    let sim = SimNodes::start(client.clone(), opts).await.unwrap();
    let names = sim.names();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    futures::stream::iter(0..100)
        .for_each_concurrent(16, |i| {
            let (pods, node) = (pods.clone(), names[i % names.len()].clone());
            async move {
                let p = pod(&format!("p{i}"), &node, json!({}));
                pods.create(&PostParams::default(), &p).await.unwrap();
            }
        })
        .await;
    let host: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "host"},
        "spec": {"nodeName": "sim-node-7", "hostNetwork": true,
                 "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &host).await.unwrap();
    let list = eventually(Duration::from_secs(20), "101 Running pods", || async {
        let list = pods.list(&ListParams::default()).await.ok()?;
        let running =
            |p: &Pod| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
        list.items.iter().all(running).then_some(list.items)
    })
    .await;
    // Addresses are unique per node: 2 pods per node, .2 and .3 of its fallback /24.
    let mut ips: Vec<_> = list
        .iter()
        .map(|p| p.status.clone().unwrap().pod_ip.unwrap())
        .collect();
    let host_ip = list
        .iter()
        .find(|p| p.name_any() == "host")
        .unwrap()
        .status
        .clone()
        .unwrap();
    assert_eq!(
        host_ip.pod_ip, host_ip.host_ip,
        "a hostNetwork pod has the node's address"
    );
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 101);
    sim.shutdown().await;
}
