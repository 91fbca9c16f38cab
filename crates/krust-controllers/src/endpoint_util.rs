//! What an endpoint of a Service is made of, shared by the Endpoints and EndpointSlice
//! controllers (Kubernetes' `pkg/controller/util/endpoint` and `podutil.FindPort`): whether a
//! pod belongs, its address, the port a service port targets on it, its hostname, node and
//! `targetRef`, and the headless marker.

use crate::pod_util::is_terminal;
use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

/// Set (empty) on the Endpoints and EndpointSlices of headless services.
pub(crate) const HEADLESS: &str = "service.kubernetes.io/headless";

/// `ShouldPodBeInEndpoints`: not terminal, has an IP, and (unless `include_terminating`)
/// is not being deleted.
pub(crate) fn should_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    if is_terminal(pod) || ipv4(pod).is_none() {
        return false;
    }
    include_terminating || pod.metadata.deletion_timestamp.is_none()
}

/// The pod's IPv4 address (krust services are single-stack IPv4).
pub(crate) fn ipv4(pod: &Pod) -> Option<&str> {
    let status = pod.status.as_ref()?;
    let listed = status.pod_ips.iter().flatten().map(|p| p.ip.as_str());
    listed
        .chain(status.pod_ip.as_deref())
        .find(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok())
}

/// `FindPort`: the container port a service port targets on `pod` (a number, or a named
/// container port of the same protocol).
pub(crate) fn find_port(pod: &Pod, port: &ServicePort) -> Option<i32> {
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            let protocol = port.protocol.as_deref().unwrap_or("TCP");
            let spec = pod.spec.as_ref()?;
            // Regular containers, then restartable init containers (sidecars).
            let sidecars = spec
                .init_containers
                .iter()
                .flatten()
                .filter(|c| c.restart_policy.as_deref() == Some("Always"));
            spec.containers
                .iter()
                .chain(sidecars)
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| {
                    p.name.as_deref() == Some(name.as_str())
                        && p.protocol.as_deref().unwrap_or("TCP") == protocol
                })
                .map(|p| p.container_port)
        }
    }
}

/// `ShouldSetHostname`: the pod asked for a hostname under this (headless) service.
pub(crate) fn hostname(pod: &Pod, service: &Service) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let hostname = spec.hostname.as_deref().filter(|h| !h.is_empty())?;
    (spec.subdomain.as_deref() == Some(service.name_any().as_str())
        && pod.namespace() == service.namespace())
    .then(|| hostname.to_string())
}

/// The `targetRef` of an endpoint for `pod`.
pub(crate) fn target_ref(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: pod.namespace(),
        name: Some(pod.name_any()),
        uid: pod.uid(),
        ..Default::default()
    }
}

/// The pod's node, if scheduled.
pub(crate) fn node_name(pod: &Pod) -> Option<String> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .filter(|n| !n.is_empty())
}

/// Whether the service is headless (`clusterIP: None`).
pub(crate) fn is_headless(service: &Service) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .is_none_or(|ip| ip.is_empty() || ip == "None")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod_util::is_ready;
    use serde_json::json;

    fn pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx",
                "ports": [{"name": "http", "containerPort": 8080},
                          {"name": "dns", "containerPort": 53, "protocol": "UDP"}]}]},
            "status": {"podIP": "10.42.0.5", "conditions": [{"type": "Ready", "status": "True"}]}
        }))
        .unwrap()
    }

    fn port(v: serde_json::Value) -> ServicePort {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn ports_resolve_by_number_and_name() {
        let p = pod();
        assert_eq!(find_port(&p, &port(json!({"port": 80}))), Some(80));
        assert_eq!(
            find_port(&p, &port(json!({"port": 80, "targetPort": 9000}))),
            Some(9000)
        );
        assert_eq!(
            find_port(&p, &port(json!({"port": 80, "targetPort": "http"}))),
            Some(8080)
        );
        assert_eq!(
            find_port(&p, &port(json!({"port": 53, "targetPort": "dns"}))),
            None,
            "protocols must match"
        );
        assert_eq!(
            find_port(
                &p,
                &port(json!({"port": 53, "targetPort": "dns", "protocol": "UDP"}))
            ),
            Some(53)
        );
    }

    #[test]
    fn readiness_and_membership() {
        let mut p = pod();
        assert!(is_ready(&p));
        assert!(should_be_in_endpoints(&p, false));
        p.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            jiff::Timestamp::now(),
        ));
        assert!(!should_be_in_endpoints(&p, false));
        assert!(should_be_in_endpoints(&p, true));
        p.status.as_mut().unwrap().pod_ip = None;
        assert!(!should_be_in_endpoints(&p, true));
    }
}
