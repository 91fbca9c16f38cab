//! What exists from the start: the four system namespaces and the `default/kubernetes`
//! Service with its Endpoints, re-created whenever deleted (as kube-apiserver's bootstrap
//! controller does).

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

/// Creates whatever of the bootstrap objects is missing.
pub async fn ensure_all(registry: &Registry, advertise: SocketAddr) -> Result<(), ApiError> {
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
    let resource = find("", "v1", "endpoints").expect("endpoints");
    registry
        .update(
            resource,
            Some("default"),
            "kubernetes",
            endpoints,
            Part::Main,
            &WriteOptions::default(),
        )
        .await?;
    Ok(())
}

/// Keeps `default/kubernetes` in place: re-creates it after every delete.
pub async fn keep(registry: Registry, advertise: SocketAddr) {
    let key = find("", "v1", "services")
        .expect("services")
        .key(Some("default"), "kubernetes");
    loop {
        // Right after a delete the old address may not be released yet: retry shortly.
        if let Err(e) = ensure_all(&registry, advertise).await {
            tracing::debug!(error = %e, "bootstrap objects, retrying");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            continue;
        }
        let Ok(mut events) = registry.watch(&key, registry.revision()) else {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            continue;
        };
        // Any delete (or a lagging watch) triggers a new round.
        while let Some(ev) = events.recv().await {
            if ev.kind == krust_store::EventType::Deleted && ev.kv.key == key {
                break;
            }
        }
    }
}
