//! What exists from the start: the four system namespaces and the `default/kubernetes`
//! Service with its Endpoints (as kube-apiserver's bootstrap controller does), and the
//! cluster DNS Service `kube-system/kube-dns` at the tenth service address (as kubeadm's
//! and k3s' CoreDNS add-on manifests make it, but without a selector: every node's agent
//! serves DNS itself and names its server in an EndpointSlice, `krust-dns`'s `kube_dns.rs`);
//! both re-created whenever deleted.

use crate::registry::{Part, Registry, WriteOptions};
use krust_api::resources::find;
use krust_api::status::ApiError;
use serde_json::{Value, json};
use std::net::SocketAddr;

const NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

async fn ensure(
    registry: &Registry,
    plural: &str,
    namespace: Option<&str>,
    obj: Value,
) -> Result<(), ApiError> {
    let resource = find("", "v1", plural).expect("core resource");
    match registry
        .create(resource, namespace, obj, &WriteOptions::default())
        .await
    {
        Err(e) if e.code != 409 => Err(e),
        _ => Ok(()),
    }
}

/// Creates whatever of the bootstrap objects is missing; `Ok(false)` when all but the
/// kube-dns Service are in place.
pub async fn ensure_all(registry: &Registry, advertise: SocketAddr) -> Result<bool, ApiError> {
    for ns in NAMESPACES {
        ensure(
            registry,
            "namespaces",
            None,
            json!({"metadata": {"name": ns}}),
        )
        .await?;
    }
    let port = advertise.port();
    let svc = json!({
        "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": registry.kubernetes_service_ip().to_string(),
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]},
    });
    ensure(registry, "services", Some("default"), svc).await?;
    // An older store may have handed the address to another Service, or a deleted one's
    // address is not released yet: DNS is then missing, the rest goes on.
    let dns = ensure(
        registry,
        "services",
        Some("kube-system"),
        kube_dns(registry),
    )
    .await;
    if let Err(e) = &dns {
        tracing::warn!(error = %e, "creating the kube-dns Service");
    }
    // After a restart on another port, the Service and its Endpoints follow the server.
    let services = find("", "v1", "services").expect("services");
    let current = registry
        .get(services, Some("default"), "kubernetes")
        .await?;
    if current.pointer("/spec/ports/0/targetPort") != Some(&json!(port)) {
        registry
            .read_modify_write(
                services,
                Some("default"),
                "kubernetes",
                Part::Main,
                &WriteOptions::default(),
                |svc| {
                    let mut svc = svc.clone();
                    svc["spec"]["ports"][0]["targetPort"] = json!(port);
                    Ok(svc)
                },
            )
            .await?;
    }
    let endpoints = json!({
        "metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": advertise.ip().to_string()}],
                     "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
    });
    // Its EndpointSlice too, as kube-apiserver's endpoint reconciler writes it: the service
    // proxy reads slices.
    let slice = json!({
        "metadata": {"name": "kubernetes", "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [advertise.ip().to_string()], "conditions": {"ready": true}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    });
    for (resource, object) in [
        (find("", "v1", "endpoints").expect("endpoints"), endpoints),
        (
            find("discovery.k8s.io", "v1", "endpointslices").expect("slices"),
            slice,
        ),
    ] {
        let opts = WriteOptions::default();
        let ns = Some("default");
        let updated = registry
            .update(
                resource,
                ns,
                "kubernetes",
                object.clone(),
                Part::Main,
                &opts,
            )
            .await;
        match updated {
            // A slice is not created by an update, as in Kubernetes.
            Err(e) if e.code == 404 => drop(registry.create(resource, ns, object, &opts).await?),
            other => drop(other?),
        }
    }
    Ok(dns.is_ok())
}

/// The `kube-system/kube-dns` Service: DNS over UDP and TCP at the tenth service address,
/// labelled as kubeadm's CoreDNS add-on labels it; no selector (its endpoints are the nodes').
fn kube_dns(registry: &Registry) -> Value {
    json!({
        "metadata": {"name": "kube-dns", "labels": {
            "k8s-app": "kube-dns",
            "kubernetes.io/cluster-service": "true",
            "kubernetes.io/name": "CoreDNS",
        }},
        "spec": {"type": "ClusterIP", "clusterIP": registry.dns_service_ip().to_string(),
                 "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                           {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]},
    })
}

/// Keeps `default/kubernetes` and `kube-system/kube-dns` in place: re-creates them after
/// every delete.
pub async fn keep(registry: Registry, advertise: SocketAddr) {
    let services = find("", "v1", "services").expect("services");
    let key = services.key(Some("default"), "kubernetes");
    let dns_key = services.key(Some("kube-system"), "kube-dns");
    let mut pause = std::time::Duration::from_millis(200);
    loop {
        // Right after a delete the old address may not be released yet: retry, less and
        // less often while it stays taken.
        match ensure_all(&registry, advertise).await {
            Ok(true) => pause = std::time::Duration::from_millis(200),
            done => {
                if let Err(e) = done {
                    tracing::debug!(error = %e, "bootstrap objects, retrying");
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(10));
                continue;
            }
        }
        let Ok(mut events) = registry.watch(&services.key_prefix(None), registry.revision()) else {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            continue;
        };
        // Any delete (or a lagging watch) triggers a new round.
        while let Some(ev) = events.recv().await {
            if ev.kind == krust_store::EventType::Deleted
                && (ev.kv.key == key || ev.kv.key == dns_key)
            {
                break;
            }
        }
    }
}
