//! The node's NetworkPolicy controller, as kube-router's netpol controller runs in every k3s
//! agent: watches of every NetworkPolicy, Pod and Namespace (the node's own pods are the
//! ones it isolates; every pod's labels and address make the peers) feed
//! `krust_net::policy`, which programs this node's `krust-policy-<bridge>` table. Nothing is
//! programmed before the three first lists are in; after that every change is programmed
//! at once, changes arriving together in one transaction. A failed sync is retried after a
//! second; a table someone removed is written again within `CHECK_PERIOD`. The table is
//! removed when the agent stops (`agent.rs`) and by `krust killall` (`reset.rs`). Every pod
//! of the cluster is kept cut to what the policies read of it (`what_policies_read`), so a
//! status change that moves no address or phase programs nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{Container, ContainerPort, Namespace, Pod, PodSpec, PodStatus};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use krust_net::policy::{PolicyConfig, PolicyEnforcer};
use kube::api::Api;
use kube::runtime::WatchStreamExt;

use super::Shared;
use super::proxy::Cache;
use super::watch::watch;

/// How often the controller checks that its table is still there.
const CHECK_PERIOD: Duration = Duration::from_secs(30);

/// Runs the controller once the pod network is up.
pub async fn run(shared: Arc<Shared>) {
    let bridge = match shared.network().await {
        Ok(n) => n.config().bridge.clone(),
        Err(e) => {
            tracing::error!(error = %e, "no pod network: no network policies");
            return;
        }
    };
    let config = PolicyConfig {
        bridge,
        node_name: shared.name.clone(),
        host_netns: None,
    };
    let enforcer = loop {
        match PolicyEnforcer::start(config.clone()).await {
            Ok(e) => break e,
            Err(e) => {
                tracing::error!(error = %e, "starting the network policy controller");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    };
    let _ = shared.policies.set(enforcer.clone());
    let client = &shared.client;
    let mut policies = watch(
        Api::<NetworkPolicy>::all(client.clone()),
        Default::default(),
    );
    let mut pods =
        watch(Api::<Pod>::all(client.clone()), Default::default()).modify(what_policies_read);
    let mut namespaces = watch(Api::<Namespace>::all(client.clone()), Default::default());
    let mut policy_cache = Cache::<NetworkPolicy>::new();
    let mut pod_cache = Cache::<Pod>::new();
    let mut ns_cache = Cache::<Namespace>::new();
    let mut dirty = false;
    let mut retry: Option<tokio::time::Instant> = None;
    let mut check = tokio::time::interval(CHECK_PERIOD);
    loop {
        let wake = retry.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            e = policies.next() => match e {
                Some(Ok(e)) => dirty |= policy_cache.take(e),
                Some(Err(e)) => tracing::debug!(error = %e, "watching network policies"),
                None => return,
            },
            e = pods.next() => match e {
                Some(Ok(e)) => dirty |= pod_cache.take(e),
                Some(Err(e)) => tracing::debug!(error = %e, "watching pods"),
                None => return,
            },
            e = namespaces.next() => match e {
                Some(Ok(e)) => dirty |= ns_cache.take(e),
                Some(Err(e)) => tracing::debug!(error = %e, "watching namespaces"),
                None => return,
            },
            _ = tokio::time::sleep_until(wake) => { retry = None; dirty = true; }
            _ = check.tick() => {
                if matches!(enforcer.check().await, Ok(false)) && policy_cache.listed {
                    tracing::warn!("the network policy rules were removed by someone else; writing them again");
                    dirty = true;
                }
            }
        }
        // Whatever else has arrived goes into the same transaction.
        loop {
            if let Some(Some(Ok(e))) = policies.next().now_or_never() {
                dirty |= policy_cache.take(e);
            } else if let Some(Some(Ok(e))) = pods.next().now_or_never() {
                dirty |= pod_cache.take(e);
            } else if let Some(Some(Ok(e))) = namespaces.next().now_or_never() {
                dirty |= ns_cache.take(e);
            } else {
                break;
            }
        }
        let listed = policy_cache.listed && pod_cache.listed && ns_cache.listed;
        if !dirty || !listed || retry.is_some() {
            continue;
        }
        dirty = false;
        let start = Instant::now();
        match enforcer
            .sync(
                policy_cache.objects.values(),
                pod_cache.objects.values(),
                ns_cache.objects.values(),
            )
            .await
        {
            Ok(s) if s.lines > 0 => tracing::debug!(
                full = s.full,
                lines = s.lines,
                policies = policy_cache.objects.len(),
                took = ?start.elapsed(),
                "network policy rules programmed"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "programming the network policy rules; retrying in a second");
                retry = Some(tokio::time::Instant::now() + Duration::from_secs(1));
            }
        }
    }
}

/// Cuts `pod` to what `krust_net::policy` reads of it: name, namespace and labels; node,
/// host networking and the containers' ports; phase and address. A whole Pod decoded is
/// ~15 KB, and the controller keeps every pod of the cluster.
fn what_policies_read(pod: &mut Pod) {
    let meta = std::mem::take(&mut pod.metadata);
    pod.metadata = ObjectMeta {
        name: meta.name,
        namespace: meta.namespace,
        labels: meta.labels,
        ..Default::default()
    };
    pod.spec = pod.spec.take().map(|spec| PodSpec {
        node_name: spec.node_name,
        host_network: spec.host_network,
        containers: spec
            .containers
            .into_iter()
            .map(|c| Container {
                name: c.name,
                ports: c.ports.map(|ports| {
                    ports
                        .into_iter()
                        .map(|p| ContainerPort {
                            name: p.name,
                            protocol: p.protocol,
                            container_port: p.container_port,
                            ..Default::default()
                        })
                        .collect()
                }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    });
    pod.status = pod.status.take().map(|status| PodStatus {
        phase: status.phase,
        pod_ip: status.pod_ip,
        ..Default::default()
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_pod_cut_to_what_policies_read_gets_the_same_plan() {
        let full = |name: &str, node: &str, ip: &str, labels: serde_json::Value| -> Pod {
            object(serde_json::json!({
                "metadata": {"name": name, "namespace": "web", "labels": labels,
                    "uid": "u", "resourceVersion": "7", "annotations": {"a": "b"}},
                "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i",
                    "env": [{"name": "E", "value": "v"}],
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP",
                        "hostPort": 80}]}],
                    "volumes": [{"name": "v", "emptyDir": {}}]},
                "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                    "hostIP": "10.0.0.1", "conditions": [{"type": "Ready", "status": "True"}]}
            }))
        };
        let pods = [
            full("a", "n1", "10.40.0.2", serde_json::json!({"app": "a"})),
            full("b", "n2", "10.40.1.2", serde_json::json!({"app": "b"})),
        ];
        let policy: NetworkPolicy = object(serde_json::json!({
            "metadata": {"name": "p", "namespace": "web"},
            "spec": {"podSelector": {"matchLabels": {"app": "a"}},
                "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "b"}}}],
                    "ports": [{"port": "http"}]}]}
        }));
        let namespace: Namespace = object(serde_json::json!({"metadata": {"name": "web"}}));
        let mut cut = pods.clone();
        cut.iter_mut().for_each(what_policies_read);
        let plan = |pods: &[Pod]| krust_net::policy::plan("n1", [&policy], pods, [&namespace]);
        assert_eq!(plan(&cut), plan(&pods));
        assert!(!plan(&pods).targets.is_empty());
        assert!(
            cut[0].metadata.uid.is_none() && cut[0].status.as_ref().unwrap().conditions.is_none()
        );
    }
}
