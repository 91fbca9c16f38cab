//! LoadBalancer Services get this node's address, as k3s' ServiceLB (klipper-lb) gives them
//! the addresses of the nodes that carry them: each node adds its address to
//! `status.loadBalancer.ingress` of every LoadBalancer Service without a
//! `loadBalancerClass` (and takes it out again when the Service stops being one); its proxy
//! then sends what arrives at that address and the Service's port to the endpoints, like
//! an external IP.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::Shared;

/// The ingress list `svc` should have with this node's address `ip`, if it differs from
/// the one it has.
pub(crate) fn wanted(svc: &Service, ip: &str) -> Option<Vec<serde_json::Value>> {
    let spec = svc.spec.as_ref()?;
    let want = spec.type_.as_deref() == Some("LoadBalancer") && spec.load_balancer_class.is_none();
    let ingress = svc
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.clone())
        .unwrap_or_default();
    let has = ingress.iter().any(|i| i.ip.as_deref() == Some(ip));
    if want == has {
        return None;
    }
    let mut list: Vec<serde_json::Value> = ingress
        .iter()
        .filter(|i| i.ip.as_deref() != Some(ip))
        .map(|i| serde_json::to_value(i).unwrap_or_default())
        .collect();
    if want {
        list.push(json!({"ip": ip, "ipMode": "VIP"}));
    }
    Some(list)
}

/// Writes this node's address into the LoadBalancer Services that lack it (in the
/// background; a conflict is retried when the watch delivers the newer version).
pub(crate) fn ensure<'a>(shared: &Arc<Shared>, services: impl IntoIterator<Item = &'a Service>) {
    for svc in services {
        let Some(ingress) = wanted(svc, &shared.host_ip) else {
            continue;
        };
        let (Some(ns), Some(name)) = (svc.metadata.namespace.clone(), svc.metadata.name.clone())
        else {
            continue;
        };
        let api: Api<Service> = Api::namespaced(shared.client.clone(), &ns);
        let patch = json!({
            "metadata": {"resourceVersion": svc.metadata.resource_version},
            "status": {"loadBalancer": {"ingress": ingress}},
        });
        tokio::spawn(async move {
            if let Err(e) = api
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                tracing::debug!(error = %e, service = %name, "writing the load balancer address");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(type_: &str, ingress: serde_json::Value) -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": type_},
            "status": {"loadBalancer": {"ingress": ingress}},
        }))
        .unwrap()
    }

    #[test]
    fn a_load_balancer_gets_the_node_address_once_and_loses_it_when_it_stops_being_one() {
        let fresh = svc("LoadBalancer", json!([]));
        assert_eq!(
            wanted(&fresh, "192.0.2.2"),
            Some(vec![json!({"ip": "192.0.2.2", "ipMode": "VIP"})])
        );
        let done = svc(
            "LoadBalancer",
            json!([{"ip": "192.0.2.3"}, {"ip": "192.0.2.2"}]),
        );
        assert_eq!(wanted(&done, "192.0.2.2"), None);
        let changed = svc(
            "ClusterIP",
            json!([{"ip": "192.0.2.3"}, {"ip": "192.0.2.2"}]),
        );
        assert_eq!(
            wanted(&changed, "192.0.2.2"),
            Some(vec![json!({"ip": "192.0.2.3"})])
        );
        assert_eq!(wanted(&svc("NodePort", json!([])), "192.0.2.2"), None);
    }
}
