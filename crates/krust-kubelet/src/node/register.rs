//! The real node's Node object (capacity, allocatable and nodeInfo of this host), its
//! registration, heartbeats (Lease renewals, status reports) and the watch of its own Node
//! for `spec.podCIDR`. The status reports the host's pressure conditions
//! ([`super::pressure`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher;
use serde_json::{Value, json};
use tokio::time::MissedTickBehavior;

use super::host::Host;
use super::{Shared, pressure};
use crate::{lease, registration};

/// Pods a node runs at most (the kubelet's `maxPods`).
const MAX_PODS: u32 = 110;

/// The node's capacity, also its allocatable (nothing is reserved for the system yet).
pub fn allocatable(host: &Host) -> BTreeMap<String, Quantity> {
    [
        ("cpu", host.cpus.to_string()),
        ("memory", format!("{}Ki", host.memory_bytes / 1024)),
        (
            "ephemeral-storage",
            format!("{}Ki", host.storage_bytes / 1024),
        ),
        ("pods", MAX_PODS.to_string()),
        ("hugepages-1Gi", "0".into()),
        ("hugepages-2Mi", "0".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Quantity(v)))
    .collect()
}

/// The Node this host registers.
pub fn node_object(shared: &Shared, host: &Host, images: Value) -> Value {
    let name = &shared.name;
    let resources = json!(shared.allocatable);
    let metadata = registration::node_metadata(name);
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": metadata,
        "spec": {},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "addresses": [
                {"type": "InternalIP", "address": shared.host_ip},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": shared.opts.kubelet_port}},
            "nodeInfo": {
                "machineID": host.machine_id,
                "systemUUID": host.machine_id,
                "bootID": host.boot_id,
                "kernelVersion": host.kernel,
                "osImage": host.os_image,
                "containerRuntimeVersion": format!("krust://{}", env!("CARGO_PKG_VERSION")),
                "kubeletVersion": registration::KUBELET_VERSION,
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
            "images": images,
            "conditions": registration::conditions(&[]),
        },
    })
}

/// Registers the Node (taking over one of the same name) and its Lease.
pub async fn register(shared: &Shared) -> anyhow::Result<lease::Heartbeat> {
    let api: Api<Node> = Api::all(shared.client.clone());
    let host = Host::read(&shared.opts.data_dir);
    let object = node_object(shared, &host, json!(shared.images.node_images()));
    let typed: Node = serde_json::from_value(object.clone())?;
    let node = registration::take_over(&api, &typed, &object).await?;
    note(shared, &node);
    let uid = node.metadata.uid.clone().unwrap_or_default();
    let heartbeat = lease::Heartbeat::start(shared.client.clone(), &shared.name, &uid).await?;
    registration::events(&shared.events, &shared.name);
    Ok(heartbeat)
}

/// Takes in the Node as the API server has it: its pod CIDR.
fn note(shared: &Shared, node: &Node) {
    let cidr = node
        .spec
        .as_ref()
        .and_then(|s| s.pod_cidr.as_deref())
        .and_then(|c| c.parse().ok());
    if cidr.is_some() {
        shared.pod_cidr.send_if_modified(|c| {
            let changed = *c != cidr;
            *c = cidr;
            changed
        });
    }
}

/// Renews the Lease every `lease_interval` and posts the status (conditions, images) every
/// `status_interval`.
pub async fn heartbeats(shared: Arc<Shared>, mut lease: lease::Heartbeat) {
    let mut lease_tick = tokio::time::interval(shared.opts.lease_interval);
    let mut status_tick = tokio::time::interval(shared.opts.status_interval);
    lease_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    status_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = lease_tick.tick() => lease.renew().await,
            _ = status_tick.tick() => post_status(&shared).await,
        }
    }
}

async fn post_status(shared: &Shared) {
    let api: Api<Node> = Api::all(shared.client.clone());
    let seen = api
        .get_opt(&shared.name)
        .await
        .ok()
        .flatten()
        .and_then(|n| n.status)
        .and_then(|s| s.conditions)
        .unwrap_or_default();
    let signals = pressure::signals(&shared.opts.data_dir);
    let under = pressure::pressures(&signals, &pressure::Thresholds::default());
    let conditions = pressure::apply(registration::conditions(&seen), under, &seen);
    let patch = json!({"status": {
        "conditions": conditions,
        "images": json!(shared.images.node_images()),
    }});
    if let Err(e) = api
        .patch_status(
            &shared.name,
            &PatchParams::default(),
            &Patch::Strategic(patch),
        )
        .await
    {
        tracing::warn!(node = %shared.name, error = %e, "posting node status");
    }
}

/// Watches this node's Node for its pod CIDR.
pub async fn watch(shared: Arc<Shared>) {
    let api: Api<Node> = Api::all(shared.client.clone());
    let config = watcher::Config::default().fields(&format!("metadata.name={}", shared.name));
    let mut stream = super::watch::watch(api, config);
    while let Some(event) = stream.next().await {
        match event {
            Ok(watcher::Event::Apply(n) | watcher::Event::InitApply(n)) => note(&shared, &n),
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "watching the node"),
        }
    }
}
