//! A kubelet's Summary (`/stats/summary`) as `NodeMetrics` and `PodMetrics`, as
//! metrics-server's storage answers them: CPU in nanocores (`123n`), memory as the working
//! set in KiB (`456Ki`), the time the kubelet measured and the window of the rate. A node,
//! pod or container without a CPU rate or memory yet is left out (metrics-server skips
//! what it cannot measure).

use super::discovery::GROUP_VERSION;
use serde_json::{Map, Value, json};

/// The window a kubelet's rates are taken over (its housekeeping interval).
pub const WINDOW: &str = "10s";

/// CPU rate (nanocores), working set (bytes) and time of a `cpu`/`memory` pair.
fn usage(cpu: &Value, memory: &Value) -> Option<(u64, u64, String)> {
    let nano = cpu.get("usageNanoCores")?.as_u64()?;
    let ws = memory.get("workingSetBytes")?.as_u64()?;
    let time = cpu.get("time")?.as_str()?.to_string();
    Some((nano, ws, time))
}

fn quantities(nano: u64, ws: u64) -> Value {
    json!({"cpu": format!("{nano}n"), "memory": format!("{}Ki", ws / 1024)})
}

fn metadata(name: &str, namespace: Option<&str>, labels: Option<&Map<String, Value>>) -> Value {
    let mut m = json!({"name": name, "creationTimestamp": krust_api::meta::now()});
    if let Some(ns) = namespace {
        m["namespace"] = json!(ns);
    }
    if let Some(l) = labels.filter(|l| !l.is_empty()) {
        m["labels"] = Value::Object(l.clone());
    }
    m
}

/// The `NodeMetrics` of `node` (its Node object) from its kubelet's `summary`.
pub fn node_metrics(node: &Value, summary: &Value) -> Option<Value> {
    let n = &summary["node"];
    let (nano, ws, time) = usage(&n["cpu"], &n["memory"])?;
    let name = node.pointer("/metadata/name")?.as_str()?;
    let labels = node.pointer("/metadata/labels").and_then(Value::as_object);
    Some(json!({
        "kind": "NodeMetrics", "apiVersion": GROUP_VERSION,
        "metadata": metadata(name, None, labels),
        "timestamp": time, "window": WINDOW, "usage": quantities(nano, ws),
    }))
}

/// The `PodMetrics` of `pod` (its Pod object) from its node's `summary`, found there by
/// namespace, name and uid.
pub fn pod_metrics(pod: &Value, summary: &Value) -> Option<Value> {
    let meta = pod.get("metadata")?;
    let (name, ns) = (
        meta.get("name")?.as_str()?,
        meta.get("namespace")?.as_str()?,
    );
    let uid = meta.get("uid").and_then(Value::as_str);
    let stats = summary.get("pods")?.as_array()?.iter().find(|p| {
        let r = &p["podRef"];
        r["name"] == name && r["namespace"] == ns && uid.is_none_or(|u| r["uid"] == u)
    })?;
    let mut time = None;
    let containers: Vec<Value> = stats
        .get("containers")?
        .as_array()?
        .iter()
        .filter_map(|c| {
            let (nano, ws, t) = usage(&c["cpu"], &c["memory"])?;
            time = time.take().max(Some(t));
            Some(json!({"name": c.get("name")?, "usage": quantities(nano, ws)}))
        })
        .collect();
    let time = time?;
    let labels = meta.get("labels").and_then(Value::as_object);
    Some(json!({
        "kind": "PodMetrics", "apiVersion": GROUP_VERSION,
        "metadata": metadata(name, Some(ns), labels),
        "timestamp": time, "window": WINDOW, "containers": containers,
    }))
}

/// A `…List` of `items`.
pub fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({"kind": format!("{kind}List"), "apiVersion": GROUP_VERSION, "metadata": {},
           "items": items})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Value {
        let cpu = |n: u64| json!({"time": "2026-12-06T12:00:00Z", "usageNanoCores": n, "usageCoreNanoSeconds": 9});
        let mem =
            |b: u64| json!({"time": "2026-12-06T12:00:00Z", "workingSetBytes": b, "usageBytes": b});
        json!({
            "node": {"nodeName": "n1", "cpu": cpu(250_000_000), "memory": mem(2048 * 1024)},
            "pods": [
                {"podRef": {"name": "web", "namespace": "default", "uid": "u1"},
                 "containers": [
                    {"name": "main", "cpu": cpu(1_000_000), "memory": mem(10 * 1024)},
                    {"name": "new", "cpu": {"time": "2026-12-06T12:00:00Z", "usageCoreNanoSeconds": 1}, "memory": mem(1)},
                 ]},
                {"podRef": {"name": "idle", "namespace": "default", "uid": "u2"},
                 "containers": [{"name": "main", "cpu": {"time": "t", "usageCoreNanoSeconds": 1}, "memory": mem(1)}]},
            ],
        })
    }

    #[test]
    fn node_usage_is_nanocores_and_the_working_set_in_kib() {
        let node = json!({"metadata": {"name": "n1", "labels": {"kubernetes.io/os": "linux"}}});
        let m = node_metrics(&node, &summary()).unwrap();
        assert_eq!(m["usage"], json!({"cpu": "250000000n", "memory": "2048Ki"}));
        assert_eq!(
            (m["kind"].as_str(), m["window"].as_str()),
            (Some("NodeMetrics"), Some("10s"))
        );
        assert_eq!(m["metadata"]["labels"]["kubernetes.io/os"], "linux");
        assert_eq!(m["timestamp"], "2026-12-06T12:00:00Z");
    }

    #[test]
    fn a_pod_lists_the_containers_with_a_rate_and_is_matched_by_uid() {
        let pod = json!({"metadata": {"name": "web", "namespace": "default", "uid": "u1", "labels": {"app": "web"}}});
        let m = pod_metrics(&pod, &summary()).unwrap();
        assert_eq!(
            m["containers"],
            json!([{"name": "main", "usage": {"cpu": "1000000n", "memory": "10Ki"}}])
        );
        assert_eq!(m["metadata"]["namespace"], "default");
        assert_eq!(m["metadata"]["labels"]["app"], "web");
        let other = json!({"metadata": {"name": "web", "namespace": "default", "uid": "u9"}});
        assert!(pod_metrics(&other, &summary()).is_none());
    }

    #[test]
    fn what_has_no_rate_yet_is_left_out() {
        let idle = json!({"metadata": {"name": "idle", "namespace": "default", "uid": "u2"}});
        assert!(pod_metrics(&idle, &summary()).is_none());
        let node = json!({"metadata": {"name": "n1"}});
        assert!(node_metrics(&node, &json!({"node": {"cpu": {"time": "t"}}})).is_none());
        assert_eq!(list("PodMetrics", vec![])["kind"], "PodMetricsList");
    }
}
