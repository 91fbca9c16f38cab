//! The service links the kubelet puts into every container's environment (`envvars.go`
//! `FromServices`, chosen by `kubelet_pods.go` `getServiceEnvVarMap`): for each Service of the
//! pod's namespace that has a cluster IP (all of them unless `enableServiceLinks: false`) and
//! always for `default/kubernetes`, `<NAME>_SERVICE_HOST`, `<NAME>_SERVICE_PORT`,
//! `<NAME>_SERVICE_PORT_<PORT NAME>` and the Docker link variables `<NAME>_PORT`,
//! `<NAME>_PORT_<port>_<PROTO>` (with `_PROTO`, `_PORT`, `_ADDR`).

use k8s_openapi::api::core::v1::{Pod, Service};

/// The service variables of `pod`, from `services` (those of its namespace and
/// `default/kubernetes`, as fetched), in name order.
pub fn service_env(pod: &Pod, services: &[Service]) -> Vec<(String, String)> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let links = pod
        .spec
        .as_ref()
        .and_then(|s| s.enable_service_links)
        .unwrap_or(true);
    let mut chosen: Vec<&Service> = services
        .iter()
        .filter(|s| {
            let ns = s.metadata.namespace.as_deref().unwrap_or("default");
            let name = s.metadata.name.as_deref().unwrap_or_default();
            (links && ns == namespace) || (ns == "default" && name == "kubernetes")
        })
        .filter(|s| has_cluster_ip(s))
        .collect();
    chosen.sort_by_key(|s| s.metadata.name.clone());
    chosen.dedup_by_key(|s| s.metadata.name.clone());
    let mut out = Vec::new();
    for s in chosen {
        vars_of(s, &mut out);
    }
    out
}

fn has_cluster_ip(s: &Service) -> bool {
    s.spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .is_some_and(|ip| !ip.is_empty() && ip != "None")
}

/// `my-svc` → `MY_SVC`.
fn env_name(name: &str) -> String {
    name.to_uppercase().replace('-', "_")
}

fn vars_of(s: &Service, out: &mut Vec<(String, String)>) {
    let Some(spec) = &s.spec else { return };
    let ip = spec.cluster_ip.clone().unwrap_or_default();
    let name = env_name(s.metadata.name.as_deref().unwrap_or_default());
    let ports = spec.ports.as_deref().unwrap_or_default();
    out.push((format!("{name}_SERVICE_HOST"), ip.clone()));
    if let Some(first) = ports.first() {
        out.push((format!("{name}_SERVICE_PORT"), first.port.to_string()));
    }
    for p in ports {
        if let Some(port_name) = p.name.as_deref().filter(|n| !n.is_empty()) {
            out.push((
                format!("{name}_SERVICE_PORT_{}", env_name(port_name)),
                p.port.to_string(),
            ));
        }
    }
    for (i, p) in ports.iter().enumerate() {
        let proto = p.protocol.as_deref().unwrap_or("TCP");
        let lower = proto.to_lowercase();
        let url = format!("{lower}://{ip}:{}", p.port);
        if i == 0 {
            out.push((format!("{name}_PORT"), url.clone()));
        }
        let prefix = format!("{name}_PORT_{}_{}", p.port, proto.to_uppercase());
        out.push((prefix.clone(), url));
        out.push((format!("{prefix}_PROTO"), lower));
        out.push((format!("{prefix}_PORT"), p.port.to_string()));
        out.push((format!("{prefix}_ADDR"), ip.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(ns: &str, name: &str, ip: &str, ports: serde_json::Value) -> Service {
        serde_json::from_value(json!({
            "metadata": {"namespace": ns, "name": name},
            "spec": {"clusterIP": ip, "ports": ports},
        }))
        .unwrap()
    }

    fn pod(links: Option<bool>) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"namespace": "shop", "name": "p"},
            "spec": {"containers": [], "enableServiceLinks": links},
        }))
        .unwrap()
    }

    #[test]
    fn services_of_the_namespace_and_the_api_become_link_variables() {
        let services = [
            service(
                "default",
                "kubernetes",
                "10.43.0.1",
                json!([{"name": "https", "port": 443}]),
            ),
            service(
                "shop",
                "web-front",
                "10.43.0.9",
                json!([{"name": "http", "port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}]),
            ),
            service("shop", "headless", "None", json!([{"port": 80}])),
            service("other", "elsewhere", "10.43.0.7", json!([{"port": 80}])),
        ];
        let vars = service_env(&pod(None), &services);
        let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("KUBERNETES_SERVICE_HOST"), Some("10.43.0.1"));
        assert_eq!(get("KUBERNETES_SERVICE_PORT"), Some("443"));
        assert_eq!(get("KUBERNETES_SERVICE_PORT_HTTPS"), Some("443"));
        assert_eq!(get("KUBERNETES_PORT"), Some("tcp://10.43.0.1:443"));
        assert_eq!(get("KUBERNETES_PORT_443_TCP_ADDR"), Some("10.43.0.1"));
        assert_eq!(get("WEB_FRONT_SERVICE_PORT_DNS"), Some("53"));
        assert_eq!(get("WEB_FRONT_PORT_53_UDP"), Some("udp://10.43.0.9:53"));
        assert_eq!(get("WEB_FRONT_PORT_53_UDP_PROTO"), Some("udp"));
        assert!(get("HEADLESS_SERVICE_HOST").is_none());
        assert!(get("ELSEWHERE_SERVICE_HOST").is_none());

        let without_links = service_env(&pod(Some(false)), &services);
        assert!(
            without_links
                .iter()
                .all(|(k, _)| k.starts_with("KUBERNETES_"))
        );
        assert!(!without_links.is_empty());
    }
}
