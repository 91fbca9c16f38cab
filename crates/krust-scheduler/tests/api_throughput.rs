//! End-to-end throughput against the in-process API server: 5,000 nodes, 10,000 pods created
//! through the API while the scheduler runs; prints pods/s from the first creation to the
//! last binding. Run with
//! `cargo nextest run --release -p krust-scheduler --test api_throughput --run-ignored all --no-capture`.

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;

const NODES: usize = 5000;
const PODS: usize = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run in release"]
async fn ten_thousand_pods_on_five_thousand_nodes_through_the_api() {
    let server = krust_testkit::start().await;
    let client = server.client.clone();
    let nodes: Api<Node> = Api::all(client.clone());
    let t = Instant::now();
    stream::iter(0..NODES)
        .map(|i| {
            let nodes = nodes.clone();
            async move {
                let n: Node = serde_json::from_value(json!({
                    "metadata": {"name": format!("sim-node-{i}"),
                        "labels": {"kubernetes.io/hostname": format!("sim-node-{i}")}},
                    "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"}},
                }))
                .unwrap();
                nodes.create(&PostParams::default(), &n).await.map(|_| ())
            }
        })
        .buffer_unordered(64)
        .try_collect::<Vec<()>>()
        .await
        .expect("nodes");
    println!("{NODES} nodes created in {:?}", t.elapsed());

    let sched = tokio::spawn(krust_scheduler::run(client.clone()));
    tokio::time::sleep(Duration::from_secs(2)).await;

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let watch_pods = pods.clone();
    let bound = tokio::spawn(async move {
        let mut seen = std::collections::HashSet::new();
        let stream = watcher(watch_pods, watcher::Config::default()).applied_objects();
        let mut stream = std::pin::pin!(stream);
        while let Some(Ok(p)) = stream.next().await {
            if p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some() {
                seen.insert(p.metadata.name.unwrap());
                if seen.len() == PODS {
                    return Instant::now();
                }
            }
        }
        panic!("watch ended");
    });
    let start = Instant::now();
    stream::iter(0..PODS)
        .map(|i| {
            let pods = pods.clone();
            async move {
                let p: Pod = serde_json::from_value(json!({
                    "metadata": {"name": format!("pod-{i}")},
                    "spec": {"containers": [{"name": "c", "image": "pause",
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]},
                }))
                .unwrap();
                pods.create(&PostParams::default(), &p).await.map(|_| ())
            }
        })
        .buffer_unordered(64)
        .try_collect::<Vec<()>>()
        .await
        .expect("pods");
    let created = start.elapsed();
    let done = tokio::time::timeout(Duration::from_secs(300), bound)
        .await
        .expect("all pods bound in time")
        .unwrap();
    let total = done.duration_since(start);
    println!(
        "{PODS} pods created in {created:?}; all bound after {total:?}: {:.0} pods/s",
        PODS as f64 / total.as_secs_f64()
    );
    let list = pods.list(&ListParams::default()).await.unwrap();
    assert!(
        list.items
            .iter()
            .all(|p| p.spec.as_ref().unwrap().node_name.is_some())
    );
    sched.abort();
}
