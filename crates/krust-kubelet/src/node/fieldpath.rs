//! The downward API's values, shared by env (`fieldRef`, `resourceFieldRef`) and downwardAPI
//! volumes: the kubelet's `podFieldSelectorRuntimeValue` and `containerResourceRuntimeValue`,
//! over `pkg/fieldpath` (`ExtractFieldPathAsString`, `FormatMap`, `ExtractResourceValueByContainerName`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, ObjectFieldSelector, ResourceFieldSelector};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::context::PodContext;
use krust_api::quantity;

/// The value of `fieldRef.fieldPath` for the pod; `Err` is the kubelet's message (`field
/// label not supported` for paths the API does not know, `unsupported fieldPath` for those
/// it knows but the kubelet does not resolve).
pub fn pod_field(ctx: &PodContext, field: &ObjectFieldSelector) -> Result<String, String> {
    let pod = ctx.pod;
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    let path = field.field_path.as_str();
    let first = |ips: &[String]| ips.first().cloned().unwrap_or_default();
    Ok(match path {
        "metadata.name" => ctx.name().to_string(),
        "metadata.namespace" => ctx.namespace().to_string(),
        "metadata.uid" => ctx.uid().to_string(),
        "metadata.labels" => format_map(meta.labels.as_ref()),
        "metadata.annotations" => format_map(meta.annotations.as_ref()),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.hostIP" => first(ctx.host_ips),
        "status.hostIPs" => ctx.host_ips.join(","),
        "status.podIP" => first(ctx.pod_ips),
        "status.podIPs" => ctx.pod_ips.join(","),
        "spec.terminationGracePeriodSeconds" => spec
            .and_then(|s| s.termination_grace_period_seconds)
            .unwrap_or(30)
            .to_string(),
        // Labels the API accepts but only the scheduler or status carry.
        "spec.restartPolicy" | "spec.schedulerName" | "status.phase" => {
            return Err(format!("unsupported fieldPath: {path}"));
        }
        _ => {
            let subscripted = |map: &str| {
                path.strip_prefix(map)
                    .and_then(|r| r.strip_prefix("['"))
                    .and_then(|r| r.strip_suffix("']"))
            };
            if let Some(key) = subscripted("metadata.labels") {
                lookup(meta.labels.as_ref(), key)
            } else if let Some(key) = subscripted("metadata.annotations") {
                lookup(meta.annotations.as_ref(), key)
            } else {
                return Err(format!("field label not supported: {path}"));
            }
        }
    })
}

fn lookup(map: Option<&BTreeMap<String, String>>, key: &str) -> String {
    map.and_then(|m| m.get(key)).cloned().unwrap_or_default()
}

/// Labels or annotations as the downward API writes them: `key="value"` lines, sorted by key,
/// values quoted as Go's `%q` does.
pub fn format_map(map: Option<&BTreeMap<String, String>>) -> String {
    let lines: Vec<String> = map
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect();
    lines.join("\n")
}

/// A string quoted as Go's `strconv.Quote`: printable characters kept, the usual escapes.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The value of `resourceFieldRef` for `container`: limits it does not set default to the
/// node's allocatable, requests it does not set to its limits (as API defaulting would
/// have stored them), then to 0. CPU is in cores (rounded up) unless divided otherwise.
pub fn container_resource(
    container: &Container,
    field: &ResourceFieldSelector,
    allocatable: &BTreeMap<String, Quantity>,
) -> Result<String, String> {
    let resources = container.resources.as_ref();
    let limits = resources.and_then(|r| r.limits.as_ref());
    let requests = resources.and_then(|r| r.requests.as_ref());
    let unsupported = || format!("unsupported container resource : {}", field.resource);
    let (kind, name) = field.resource.split_once('.').ok_or_else(unsupported)?;
    let limit = |name: &str| {
        limits
            .and_then(|l| l.get(name))
            .or_else(|| allocatable.get(name))
            .cloned()
    };
    let value = match kind {
        "limits" => limit(name),
        "requests" => requests
            .and_then(|r| r.get(name))
            .or_else(|| limits.and_then(|l| l.get(name)))
            .cloned(),
        _ => return Err(unsupported()),
    };
    let zero = Quantity("0".into());
    let value = value.unwrap_or(zero);
    let one = Quantity("1".into());
    let divisor = field.divisor.as_ref().unwrap_or(&one);
    let ceil_div = |n: i64, d: i64| {
        if d <= 0 {
            n
        } else {
            n / d + i64::from(n % d > 0)
        }
    };
    match name {
        "cpu" => Ok(ceil_div(
            quantity::milli_value(&value.0).unwrap_or(0),
            quantity::milli_value(&divisor.0).unwrap_or(1000),
        )
        .to_string()),
        "memory" | "ephemeral-storage" => Ok(ceil_div(
            quantity::value(&value.0).unwrap_or(0),
            quantity::value(&divisor.0).unwrap_or(1),
        )
        .to_string()),
        n if n.starts_with("hugepages-") => Ok(ceil_div(
            quantity::value(&value.0).unwrap_or(0),
            quantity::value(&divisor.0).unwrap_or(1),
        )
        .to_string()),
        _ => Err(unsupported()),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Pod, PodSpec, ResourceRequirements};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::super::context::ObjectMap;
    use super::*;

    fn pod() -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("prod".into()),
                uid: Some("u-1".into()),
                labels: Some(BTreeMap::from([
                    ("app".to_string(), "web".to_string()),
                    ("tier".to_string(), "a \"b\"".to_string()),
                ])),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                node_name: Some("n1".into()),
                service_account_name: Some("sa".into()),
                ..PodSpec::default()
            }),
            ..Pod::default()
        }
    }

    fn field(ctx: &PodContext, path: &str) -> Result<String, String> {
        let sel = ObjectFieldSelector {
            field_path: path.into(),
            api_version: None,
        };
        pod_field(ctx, &sel)
    }

    #[test]
    fn pod_fields_come_from_the_pod_and_its_addresses() {
        let pod = pod();
        let objects = ObjectMap::default();
        let ips = ["10.42.0.5".to_string(), "fd00::5".to_string()];
        let host = ["192.168.1.2".to_string()];
        let alloc = BTreeMap::new();
        let ctx = PodContext {
            pod: &pod,
            pod_ips: &ips,
            host_ips: &host,
            node_allocatable: &alloc,
            objects: &objects,
        };
        assert_eq!(field(&ctx, "metadata.name").unwrap(), "web");
        assert_eq!(field(&ctx, "metadata.namespace").unwrap(), "prod");
        assert_eq!(field(&ctx, "metadata.uid").unwrap(), "u-1");
        assert_eq!(field(&ctx, "spec.nodeName").unwrap(), "n1");
        assert_eq!(field(&ctx, "spec.serviceAccountName").unwrap(), "sa");
        assert_eq!(field(&ctx, "status.podIP").unwrap(), "10.42.0.5");
        assert_eq!(field(&ctx, "status.podIPs").unwrap(), "10.42.0.5,fd00::5");
        assert_eq!(field(&ctx, "status.hostIP").unwrap(), "192.168.1.2");
        assert_eq!(field(&ctx, "metadata.labels['app']").unwrap(), "web");
        assert_eq!(field(&ctx, "metadata.annotations['none']").unwrap(), "");
        assert_eq!(
            field(&ctx, "metadata.labels").unwrap(),
            "app=\"web\"\ntier=\"a \\\"b\\\"\""
        );
        assert_eq!(
            field(&ctx, "spec.bogus").unwrap_err(),
            "field label not supported: spec.bogus"
        );
        assert_eq!(
            field(&ctx, "status.phase").unwrap_err(),
            "unsupported fieldPath: status.phase"
        );
        assert_eq!(
            field(&ctx, "spec.terminationGracePeriodSeconds").unwrap(),
            "30"
        );
    }

    fn selector(resource: &str, divisor: Option<&str>) -> ResourceFieldSelector {
        ResourceFieldSelector {
            resource: resource.into(),
            divisor: divisor.map(|d| Quantity(d.into())),
            container_name: None,
        }
    }

    #[test]
    fn resource_fields_round_up_by_the_divisor_and_default_limits_to_allocatable() {
        let q = |s: &str| Quantity(s.into());
        let container = Container {
            name: "c".into(),
            resources: Some(ResourceRequirements {
                requests: Some(BTreeMap::from([("cpu".to_string(), q("250m"))])),
                limits: Some(BTreeMap::from([("memory".to_string(), q("64Mi"))])),
                ..ResourceRequirements::default()
            }),
            ..Container::default()
        };
        let alloc = BTreeMap::from([
            ("cpu".to_string(), q("4")),
            ("memory".to_string(), q("8Gi")),
        ]);
        let value =
            |r: &str, d: Option<&str>| container_resource(&container, &selector(r, d), &alloc);
        assert_eq!(value("requests.cpu", None).unwrap(), "1");
        assert_eq!(value("requests.cpu", Some("1m")).unwrap(), "250");
        assert_eq!(value("limits.cpu", None).unwrap(), "4");
        assert_eq!(value("limits.memory", Some("1Mi")).unwrap(), "64");
        assert_eq!(
            value("requests.memory", None).unwrap(),
            (64 << 20).to_string()
        );
        assert_eq!(value("limits.memory", Some("1Gi")).unwrap(), "1");
        assert_eq!(
            value("limits.gpu", None).unwrap_err(),
            "unsupported container resource : limits.gpu"
        );
    }
}
