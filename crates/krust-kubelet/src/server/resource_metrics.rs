//! `/metrics/resource` (the kubelet's resource metrics endpoint, `pkg/kubelet/metrics/
//! collectors/resource_metrics.go`): the Summary's CPU and memory as Prometheus text, the
//! form metrics-server scrapes. Each sample carries the time it was measured, in
//! milliseconds.

use super::stats::{CpuStats, MemoryStats, Summary};
use std::fmt::Write;

/// The metric families, with their type and help, in the order they are written.
const FAMILIES: &[(&str, &str, &str)] = &[
    (
        "container_cpu_usage_seconds_total",
        "counter",
        "[STABLE] CPU time a container has used, in core-seconds",
    ),
    (
        "container_memory_working_set_bytes",
        "gauge",
        "[STABLE] A container's working set, in bytes",
    ),
    (
        "container_start_time_seconds",
        "gauge",
        "[STABLE] When a container started, in seconds since the Unix epoch",
    ),
    (
        "node_cpu_usage_seconds_total",
        "counter",
        "[STABLE] CPU time the node has used, in core-seconds",
    ),
    (
        "node_memory_working_set_bytes",
        "gauge",
        "[STABLE] The node's working set, in bytes",
    ),
    (
        "pod_cpu_usage_seconds_total",
        "counter",
        "[STABLE] CPU time a pod has used, in core-seconds",
    ),
    (
        "pod_memory_working_set_bytes",
        "gauge",
        "[STABLE] A pod's working set, in bytes",
    ),
    (
        "resource_scrape_error",
        "gauge",
        "[STABLE] 1 when the container metrics could not be read, else 0",
    ),
];

/// The Prometheus text of `summary`; `scrape_error` when reading it failed (then only that
/// gauge says so).
pub fn render(summary: Option<&Summary>) -> String {
    let mut lines: Vec<(usize, String)> = Vec::new();
    let mut add = |family: usize, labels: String, value: String, time: Option<&str>| {
        let name = FAMILIES[family].0;
        let ts = time
            .and_then(millis)
            .map(|t| format!(" {t}"))
            .unwrap_or_default();
        lines.push((family, format!("{name}{labels} {value}{ts}")));
    };
    if let Some(s) = summary {
        for pod in &s.pods {
            let (ns, name) = (&pod.pod_ref.namespace, &pod.pod_ref.name);
            for c in &pod.containers {
                let labels = format!(
                    "{{container=\"{}\",namespace=\"{}\",pod=\"{}\"}}",
                    escape(&c.name),
                    escape(ns),
                    escape(name)
                );
                cpu(&mut add, 0, &labels, c.cpu.as_ref());
                memory(&mut add, 1, &labels, c.memory.as_ref());
                if let Some(t) = c.start_time.as_deref().and_then(millis) {
                    add(2, labels.clone(), seconds(t), None);
                }
            }
            let labels = format!("{{namespace=\"{}\",pod=\"{}\"}}", escape(ns), escape(name));
            cpu(&mut add, 5, &labels, pod.cpu.as_ref());
            memory(&mut add, 6, &labels, pod.memory.as_ref());
        }
        cpu(&mut add, 3, "", s.node.cpu.as_ref());
        memory(&mut add, 4, "", s.node.memory.as_ref());
    }
    add(
        7,
        String::new(),
        u8::from(summary.is_none()).to_string(),
        None,
    );
    lines.sort_by_key(|(f, _)| *f);
    let mut out = String::new();
    for (i, (name, kind, help)) in FAMILIES.iter().enumerate() {
        let family: Vec<&String> = lines
            .iter()
            .filter(|(f, _)| *f == i)
            .map(|(_, l)| l)
            .collect();
        if family.is_empty() {
            continue;
        }
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for l in family {
            let _ = writeln!(out, "{l}");
        }
    }
    out
}

fn cpu(
    add: &mut impl FnMut(usize, String, String, Option<&str>),
    family: usize,
    labels: &str,
    cpu: Option<&CpuStats>,
) {
    if let Some(c) = cpu {
        let value = c.usage_core_nano_seconds as f64 / 1e9;
        add(family, labels.to_string(), value.to_string(), Some(&c.time));
    }
}

fn memory(
    add: &mut impl FnMut(usize, String, String, Option<&str>),
    family: usize,
    labels: &str,
    memory: Option<&MemoryStats>,
) {
    if let Some(m) = memory {
        let value = m.working_set_bytes.to_string();
        add(family, labels.to_string(), value, Some(&m.time));
    }
}

fn millis(time: &str) -> Option<i64> {
    time.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

fn seconds(millis: i64) -> String {
    (millis as f64 / 1000.0).to_string()
}

/// A label value escaped as the text format wants (`\`, `"` and newlines).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::super::stats::{ContainerStats, NodeStats, PodRef, PodStats};
    use super::*;

    fn cpu(ns: u64) -> Option<CpuStats> {
        Some(CpuStats {
            time: "2026-12-06T12:00:00Z".into(),
            usage_nano_cores: Some(5),
            usage_core_nano_seconds: ns,
        })
    }

    fn memory(bytes: u64) -> Option<MemoryStats> {
        Some(MemoryStats {
            time: "2026-12-06T12:00:00Z".into(),
            usage_bytes: bytes * 2,
            working_set_bytes: bytes,
            ..Default::default()
        })
    }

    #[test]
    fn the_summary_is_written_as_the_kubelets_resource_metrics() {
        let summary = Summary {
            node: NodeStats {
                node_name: "n1".into(),
                cpu: cpu(2_500_000_000),
                memory: memory(1024),
                ..Default::default()
            },
            pods: vec![PodStats {
                pod_ref: PodRef {
                    name: "web".into(),
                    namespace: "default".into(),
                    uid: "u".into(),
                },
                containers: vec![ContainerStats {
                    name: "main".into(),
                    start_time: Some("2026-12-06T11:00:00Z".into()),
                    cpu: cpu(1_000_000),
                    memory: memory(4096),
                }],
                cpu: cpu(1_000_000),
                memory: memory(4096),
                ..Default::default()
            }],
        };
        let text = render(Some(&summary));
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                "container_cpu_usage_seconds_total{container=\"main\",namespace=\"default\",pod=\"web\"} 0.001 1796558400000",
                "container_memory_working_set_bytes{container=\"main\",namespace=\"default\",pod=\"web\"} 4096 1796558400000",
                "container_start_time_seconds{container=\"main\",namespace=\"default\",pod=\"web\"} 1796554800",
                "node_cpu_usage_seconds_total 2.5 1796558400000",
                "node_memory_working_set_bytes 1024 1796558400000",
                "pod_cpu_usage_seconds_total{namespace=\"default\",pod=\"web\"} 0.001 1796558400000",
                "pod_memory_working_set_bytes{namespace=\"default\",pod=\"web\"} 4096 1796558400000",
                "resource_scrape_error 0",
            ]
        );
        assert!(text.contains("# TYPE node_cpu_usage_seconds_total counter\n"));
        assert!(text.contains("# TYPE resource_scrape_error gauge\n"));
    }

    #[test]
    fn a_failed_read_is_only_a_scrape_error() {
        let text = render(None);
        assert!(text.ends_with("resource_scrape_error 1\n"), "{text}");
        assert!(!text.contains("node_cpu"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
