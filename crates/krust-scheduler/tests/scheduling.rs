//! The scheduler against an in-process API server: nodes and pods created through the API.

use std::collections::HashMap;
use std::time::Duration;

use krust_testkit::scheduling::*;
use krust_testkit::{Spawned, TestServer, eventually};
use serde_json::json;

/// A server with the scheduler running against it; both stop when dropped.
async fn start() -> (TestServer, Spawned) {
    krust_testkit::trace();
    let server = krust_testkit::start().await;
    let scheduler =
        krust_testkit::spawn("the scheduler", krust_scheduler::run(server.client.clone()));
    (server, scheduler)
}

#[tokio::test]
async fn pods_are_bound_and_spread_with_scheduled_events() {
    let (server, _scheduler) = start().await;
    let c = &server.client;
    for n in ["sim-node-1", "sim-node-2", "sim-node-3"] {
        node(c, n, "4", &[], json!(null)).await;
    }
    for i in 0..6 {
        pod(c, &format!("p{i}"), "100m", json!({})).await;
    }
    let mut per_node: HashMap<String, usize> = HashMap::new();
    for i in 0..6 {
        *per_node
            .entry(bound_node(c, &format!("p{i}")).await)
            .or_default() += 1;
    }
    assert_eq!(per_node.len(), 3, "{per_node:?}");
    assert!(per_node.values().all(|n| *n == 2), "{per_node:?}");

    let node0 = bound_node(c, "p0").await;
    let events = eventually(Duration::from_secs(10), "a Scheduled event", || async {
        let evs = events_of(c, "p0").await;
        evs.iter()
            .any(|e| e.reason.as_deref() == Some("Scheduled"))
            .then_some(evs)
    })
    .await;
    let e = events
        .iter()
        .find(|e| e.reason.as_deref() == Some("Scheduled"))
        .unwrap();
    assert_eq!(e.type_.as_deref(), Some("Normal"));
    assert_eq!(
        e.message.as_deref(),
        Some(format!("Successfully assigned default/p0 to {node0}").as_str())
    );
    assert_eq!(
        e.source.as_ref().and_then(|s| s.component.as_deref()),
        Some("default-scheduler")
    );
    assert_eq!(e.reporting_component.as_deref(), Some("default-scheduler"));
    let cond = scheduled_condition(c, "p0").await.unwrap();
    assert_eq!(cond.0, "True");
}

#[tokio::test]
async fn an_oversized_pod_stays_pending_with_the_kubernetes_message() {
    let (server, _scheduler) = start().await;
    let c = &server.client;
    for n in ["sim-node-1", "sim-node-2", "sim-node-3"] {
        node(c, n, "2", &[], json!(null)).await;
    }
    pod(c, "big", "16", json!({})).await;
    let expected = "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are \
                    available: 3 No preemption victims found for incoming pod..";
    let cond = eventually(Duration::from_secs(10), "PodScheduled=False", || async {
        scheduled_condition(c, "big")
            .await
            .filter(|c| c.0 == "False")
    })
    .await;
    assert_eq!(
        cond,
        ("False".into(), "Unschedulable".into(), expected.into())
    );
    let events = eventually(
        Duration::from_secs(10),
        "a FailedScheduling event",
        || async {
            let evs = events_of(c, "big").await;
            evs.iter()
                .any(|e| e.reason.as_deref() == Some("FailedScheduling"))
                .then_some(evs)
        },
    )
    .await;
    let e = events
        .iter()
        .find(|e| e.reason.as_deref() == Some("FailedScheduling"))
        .unwrap();
    assert_eq!(e.type_.as_deref(), Some("Warning"));
    assert_eq!(e.message.as_deref(), Some(expected));
    assert!(get_pod(c, "big").await.spec.unwrap().node_name.is_none());
}

#[tokio::test]
async fn node_selectors_and_taints_decide_where_pods_go() {
    let (server, _scheduler) = start().await;
    let c = &server.client;
    node(c, "plain", "4", &[], json!(null)).await;
    node(c, "ssd", "4", &[("disk", "ssd")], json!(null)).await;
    node(
        c,
        "tainted",
        "4",
        &[("disk", "ssd")],
        json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
    )
    .await;
    for i in 0..4 {
        pod(
            c,
            &format!("sel{i}"),
            "",
            json!({"nodeSelector": {"disk": "ssd"}}),
        )
        .await;
    }
    for i in 0..6 {
        pod(c, &format!("any{i}"), "", json!({})).await;
    }
    for i in 0..4 {
        assert_eq!(bound_node(c, &format!("sel{i}")).await, "ssd");
    }
    for i in 0..6 {
        assert_ne!(bound_node(c, &format!("any{i}")).await, "tainted");
    }
    // A pod that tolerates the taint may go there.
    pod(
        c,
        "tolerant",
        "",
        json!({"nodeSelector": {"kubernetes.io/hostname": "tainted"},
               "tolerations": [{"key": "dedicated", "operator": "Exists"}]}),
    )
    .await;
    assert_eq!(bound_node(c, "tolerant").await, "tainted");
    // Without the toleration, the message names the taint.
    pod(
        c,
        "intolerant",
        "",
        json!({"nodeSelector": {"kubernetes.io/hostname": "tainted"}}),
    )
    .await;
    let cond = eventually(Duration::from_secs(10), "PodScheduled=False", || async {
        scheduled_condition(c, "intolerant")
            .await
            .filter(|c| c.0 == "False")
    })
    .await;
    assert_eq!(
        cond.2,
        "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 node(s) \
         didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 \
         Preemption is not helpful for scheduling.."
    );
}

#[tokio::test]
async fn an_unschedulable_pod_is_scheduled_once_a_fitting_node_appears() {
    let (server, _scheduler) = start().await;
    let c = &server.client;
    node(c, "small", "1", &[], json!(null)).await;
    pod(c, "waiting", "3", json!({})).await;
    eventually(Duration::from_secs(10), "PodScheduled=False", || async {
        scheduled_condition(c, "waiting")
            .await
            .filter(|c| c.0 == "False")
    })
    .await;
    node(c, "big", "4", &[], json!(null)).await;
    assert_eq!(bound_node(c, "waiting").await, "big");
}

#[tokio::test]
async fn a_cordoned_node_becomes_usable_when_uncordoned() {
    let (server, _scheduler) = start().await;
    let c = &server.client;
    node(c, "only", "4", &[], json!(null)).await;
    patch_node(c, "only", json!({"spec": {"unschedulable": true}})).await;
    // The scheduler may see the node before the cordon: give it time to see both.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    pod(c, "p", "", json!({})).await;
    let cond = eventually(Duration::from_secs(10), "PodScheduled=False", || async {
        scheduled_condition(c, "p").await.filter(|c| c.0 == "False")
    })
    .await;
    assert!(
        cond.2
            .starts_with("0/1 nodes are available: 1 node(s) were unschedulable."),
        "{}",
        cond.2
    );
    patch_node(c, "only", json!({"spec": {"unschedulable": false}})).await;
    assert_eq!(bound_node(c, "p").await, "only");
}

#[tokio::test]
async fn replicas_of_one_owner_spread_over_nodes() {
    let (server, _scheduler) = start().await;
    let c = &server.client;
    for n in ["n1", "n2", "n3"] {
        node(c, n, "4", &[], json!(null)).await;
    }
    for i in 0..5 {
        create_pod(
            c,
            json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("web-{i}"), "labels": {"app": "web"},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                        "name": "web", "uid": "6f1c1a52-0000-4000-8000-000000000001",
                        "controller": true}]},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}),
        )
        .await;
    }
    let mut per_node: HashMap<String, usize> = HashMap::new();
    for i in 0..5 {
        *per_node
            .entry(bound_node(c, &format!("web-{i}")).await)
            .or_default() += 1;
    }
    let mut counts: Vec<usize> = per_node.values().copied().collect();
    counts.sort();
    assert_eq!(counts, [1, 2, 2]);
}

#[tokio::test]
async fn required_anti_affinity_keeps_replicas_apart() {
    let (server, _scheduler) = start().await;
    let c = &server.client;
    for n in ["n1", "n2"] {
        node(c, n, "4", &[], json!(null)).await;
    }
    let anti = json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}]}}});
    for i in 0..3 {
        let mut p = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("db-{i}"), "labels": {"app": "db"}},
            "spec": {"containers": [{"name": "c", "image": "postgres"}]}});
        p["spec"]["affinity"] = anti["affinity"].clone();
        create_pod(c, p).await;
        if i < 2 {
            bound_node(c, &format!("db-{i}")).await;
        }
    }
    assert_ne!(bound_node(c, "db-0").await, bound_node(c, "db-1").await);
    let cond = eventually(Duration::from_secs(10), "PodScheduled=False", || async {
        scheduled_condition(c, "db-2")
            .await
            .filter(|c| c.0 == "False")
    })
    .await;
    assert_eq!(
        cond.2,
        "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules. preemption: 0/2 \
         nodes are available: 2 No preemption victims found for incoming pod.."
    );
}

#[tokio::test]
async fn deleting_a_pod_frees_room_for_a_waiting_one() {
    let (server, _scheduler) = start().await;
    let c = &server.client;
    node(c, "n1", "1", &[], json!(null)).await;
    pod(c, "first", "800m", json!({})).await;
    assert_eq!(bound_node(c, "first").await, "n1");
    pod(c, "second", "800m", json!({})).await;
    eventually(Duration::from_secs(10), "PodScheduled=False", || async {
        scheduled_condition(c, "second")
            .await
            .filter(|c| c.0 == "False")
    })
    .await;
    let api: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(c.clone(), "default");
    api.delete("first", &kube::api::DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    assert_eq!(bound_node(c, "second").await, "n1");
}
