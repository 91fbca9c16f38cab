//! The Endpoints controller: for every Service with a selector, an `Endpoints` object of the
//! same name listing the selected pods: ready ones under `addresses`, the others under
//! `notReadyAddresses`, each with the service ports resolved against the pod (numbers, or
//! named container ports). Removed when the Service goes. `default/kubernetes` belongs to the
//! API server and is left alone.
//!
//! Services, pods and Endpoints are watched into in-memory stores; a sync reads only those.
//! What it shares with the EndpointSlice controller is in `service_pods.rs` (which services a
//! pod change concerns) and `endpoint_util.rs` (what an endpoint of a pod is).

use crate::endpoint_util::{self, HEADLESS, is_headless, should_be_in_endpoints};
use crate::informer::{Key, Outcome, WorkQueue, for_each_change, key_of, synced};
use crate::informers::Informers;
use crate::pod_util::is_ready;
use crate::service_pods::{queue_services, selects};
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Pod, Service,
};
use krust_component::events::{Recorder, versioned_reference};
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// The label Kubernetes' Endpoints controller puts on what it manages.
pub const MANAGED_BY: &str = "endpoints.kubernetes.io/managed-by";
/// Its value.
pub const CONTROLLER_NAME: &str = "endpoint-controller";
const OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
/// At most this many addresses in one Endpoints object (as Kubernetes truncates).
const MAX_CAPACITY: usize = 1000;
const WORKERS: usize = 4;

struct Ctx {
    client: Client,
    recorder: Recorder,
    services: Store<Service>,
    pods: Store<Pod>,
    endpoints: Store<Endpoints>,
    /// The pods each service's Endpoints listed at its last sync: a pod whose labels no
    /// longer match still triggers the services it was in.
    members: Mutex<HashMap<Key, HashSet<String>>>,
    /// Services seen deleted: their Endpoints go even without the managed-by label.
    deleted: Mutex<HashSet<Key>>,
}

/// Runs this controller until it fails.
pub async fn run(informers: Informers) -> anyhow::Result<()> {
    let client = informers.client().clone();
    let (services, svc_events) = informers.reflect::<Service>();
    let (pods, pod_events) = informers.reflect::<Pod>();
    let (endpoints, ep_events) = informers.reflect::<Endpoints>();
    let ctx = Arc::new(Ctx {
        recorder: Recorder::direct(client.clone(), CONTROLLER_NAME),
        client,
        services,
        pods,
        endpoints,
        members: Mutex::default(),
        deleted: Mutex::default(),
    });
    let queue = WorkQueue::<Key>::new();
    let svc_and_pod_loops = queue_services(
        &ctx.services,
        &ctx.members,
        &queue,
        (svc_events, pod_events),
        |key, gone| {
            let mut deleted = ctx.deleted.lock().expect("deleted lock");
            if gone {
                deleted.insert(key.clone());
            } else {
                deleted.remove(key);
            }
        },
    );
    let ep_loop = for_each_change(
        ep_events,
        |ep: &Endpoints, gone| {
            // Re-create Endpoints deleted under us; delete ours left without a service.
            let key = key_of(ep);
            let orphan = ctx
                .services
                .get(&ObjectRef::new(&key.1).within(&key.0))
                .is_none();
            if gone || orphan {
                queue.add(key);
            }
        },
        |done| {
            if done {
                for ep in ctx.endpoints.state() {
                    queue.add(key_of(ep.as_ref()));
                }
            }
        },
    );
    let workers = async {
        synced(&[&ctx.services, &ctx.pods, &ctx.endpoints]).await;
        queue.clone().run(WORKERS, |key| sync(&ctx, key)).await
    };
    tokio::join!(svc_and_pod_loops, ep_loop, workers);
    anyhow::bail!("the endpoints controller's watches ended")
}

fn managed(ep: &Endpoints) -> bool {
    ep.labels().get(MANAGED_BY).map(String::as_str) == Some(CONTROLLER_NAME)
}

async fn sync(ctx: &Ctx, key: Key) -> Outcome {
    let (ns, name) = &key;
    if ns == "default" && name == "kubernetes" {
        return Ok(None);
    }
    let api: Api<Endpoints> = Api::namespaced(ctx.client.clone(), ns);
    let current = ctx.endpoints.get(&ObjectRef::new(name).within(ns));
    let Some(service) = ctx.services.get(&ObjectRef::new(name).within(ns)) else {
        ctx.members.lock().expect("members lock").remove(&key);
        let was_deleted = ctx.deleted.lock().expect("deleted lock").remove(&key);
        if let Some(ep) = current
            && (was_deleted || managed(&ep))
        {
            match api.delete(name, &DeleteParams::default()).await {
                Ok(_) => tracing::debug!(ns, name, "deleted endpoints of a deleted service"),
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        return Ok(None);
    };
    let Some(spec) = &service.spec else {
        return Ok(None);
    };
    if spec.type_.as_deref() == Some("ExternalName") || spec.selector.is_none() {
        // Endpoints of selector-less services are the user's.
        return Ok(None);
    }

    let (subsets, included) = desired_subsets(&service, &ctx.pods);
    ctx.members
        .lock()
        .expect("members lock")
        .insert(key.clone(), included);
    let (subsets, truncated) = truncate(subsets);
    let labels = desired_labels(&service);

    let unchanged = current.as_ref().is_some_and(|c| {
        c.subsets.clone().unwrap_or_default() == subsets
            && c.metadata.labels.clone().unwrap_or_default() == labels
            && c.annotations().contains_key(OVER_CAPACITY) == truncated
    });
    if unchanged {
        return Ok(None);
    }
    let mut ep = current.as_deref().cloned().unwrap_or_else(|| Endpoints {
        metadata: kube::api::ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ns.clone()),
            ..Default::default()
        },
        ..Default::default()
    });
    ep.subsets = (!subsets.is_empty()).then_some(subsets);
    ep.metadata.labels = Some(labels);
    let annotations = ep.annotations_mut();
    if truncated {
        annotations.insert(OVER_CAPACITY.into(), "truncated".into());
    } else {
        annotations.remove(OVER_CAPACITY);
    }
    if annotations.is_empty() {
        ep.metadata.annotations = None;
    }
    let pp = PostParams {
        field_manager: Some(CONTROLLER_NAME.into()),
        ..Default::default()
    };
    let result = match &current {
        Some(_) => api.replace(name, &pp, &ep).await,
        None => api.create(&pp, &ep).await,
    };
    match result {
        Ok(_) => Ok(None),
        Err(kube::Error::Api(e))
            if e.code == 403 && e.reason == "Forbidden" && current.is_none() =>
        {
            // The namespace is terminating: creates keep failing; drop the key.
            tracing::debug!(ns, name, error = %e.message, "cannot create endpoints");
            Ok(None)
        }
        Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => {
            // Our store is behind the server; try again once it caught up.
            anyhow::bail!("endpoints {ns}/{name} changed meanwhile: {}", e.message)
        }
        Err(e) => {
            let (reason, verb) = match current {
                Some(_) => ("FailedToUpdateEndpoint", "update"),
                None => ("FailedToCreateEndpoint", "create"),
            };
            let message = format!("Failed to {verb} endpoint {ns}/{name}: {e}");
            ctx.recorder
                .warning(&versioned_reference(&ep), reason, &message)
                .await;
            Err(e.into())
        }
    }
}

/// The service's labels, plus the managed-by label (and the headless one if it applies).
fn desired_labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels = service.labels().clone();
    labels.insert(MANAGED_BY.into(), CONTROLLER_NAME.into());
    if is_headless(service) {
        labels.insert(HEADLESS.into(), String::new());
    } else {
        labels.remove(HEADLESS);
    }
    labels
}

/// A port, comparable (name, port, protocol, appProtocol).
type PortKey = (String, i32, String, String);

fn port_key(p: &EndpointPort) -> PortKey {
    (
        p.name.clone().unwrap_or_default(),
        p.port,
        p.protocol.clone().unwrap_or_default(),
        p.app_protocol.clone().unwrap_or_default(),
    )
}

/// The subsets the selected pods make, repacked as Kubernetes' `RepackSubsets` does (one
/// subset per distinct port set, addresses sorted by IP), and the names of the pods listed.
fn desired_subsets(service: &Service, pods: &Store<Pod>) -> (Vec<EndpointSubset>, HashSet<String>) {
    let spec = service.spec.as_ref().expect("checked by the caller");
    let selector = spec.selector.clone().unwrap_or_default();
    let ns = service.namespace();
    let publish = spec.publish_not_ready_addresses.unwrap_or(false);
    let service_ports = spec.ports.clone().unwrap_or_default();
    let headless = is_headless(service);
    // Port set → (ready addresses, not-ready addresses), each keyed by (IP, UID) for order.
    type Addrs = BTreeMap<(String, String), EndpointAddress>;
    let mut groups: BTreeMap<Vec<PortKey>, (Vec<EndpointPort>, Addrs, Addrs)> = BTreeMap::new();
    let mut included = HashSet::new();
    let selected = pods.state_filter(|p| p.namespace() == ns && selects(&selector, p));
    for pod in selected {
        if !should_be_in_endpoints(&pod, publish) {
            continue;
        }
        let ip = endpoint_util::ipv4(&pod).unwrap_or_default().to_string();
        let address = EndpointAddress {
            ip: ip.clone(),
            hostname: endpoint_util::hostname(&pod, service),
            node_name: endpoint_util::node_name(&pod),
            target_ref: Some(endpoint_util::target_ref(&pod)),
        };
        let mut ports: Vec<EndpointPort> = service_ports
            .iter()
            .filter_map(|sp| {
                let port = endpoint_util::find_port(&pod, sp)?;
                Some(EndpointPort {
                    name: sp.name.clone().filter(|n| !n.is_empty()),
                    port,
                    protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                    app_protocol: sp.app_protocol.clone(),
                })
            })
            .collect();
        // A pod none of whose ports resolve is left out; headless services may have no ports.
        if ports.is_empty() && !(service_ports.is_empty() && headless) {
            continue;
        }
        ports.sort_by_key(port_key);
        ports.dedup_by_key(|p| port_key(p));
        included.insert(pod.name_any());
        let group = groups
            .entry(ports.iter().map(port_key).collect())
            .or_insert_with(|| (ports, BTreeMap::new(), BTreeMap::new()));
        let order = (ip, pod.uid().unwrap_or_default());
        if publish || is_ready(&pod) {
            group.1.insert(order, address);
        } else {
            group.2.insert(order, address);
        }
    }
    let subsets = groups
        .into_values()
        .map(|(ports, ready, not_ready)| EndpointSubset {
            addresses: (!ready.is_empty()).then(|| ready.into_values().collect()),
            not_ready_addresses: (!not_ready.is_empty()).then(|| not_ready.into_values().collect()),
            ports: (!ports.is_empty()).then_some(ports),
        })
        .collect();
    (subsets, included)
}

/// Keeps at most [`MAX_CAPACITY`] addresses, ready ones first. Returns whether it cut.
fn truncate(mut subsets: Vec<EndpointSubset>) -> (Vec<EndpointSubset>, bool) {
    let count = |s: &EndpointSubset| {
        s.addresses.as_ref().map_or(0, Vec::len)
            + s.not_ready_addresses.as_ref().map_or(0, Vec::len)
    };
    if subsets.iter().map(count).sum::<usize>() <= MAX_CAPACITY {
        return (subsets, false);
    }
    let mut room = MAX_CAPACITY;
    for s in &mut subsets {
        if let Some(a) = &mut s.addresses {
            a.truncate(room);
            room -= a.len();
        }
    }
    for s in &mut subsets {
        if let Some(a) = &mut s.not_ready_addresses {
            a.truncate(room);
            room -= a.len();
        }
    }
    for s in &mut subsets {
        s.addresses = s.addresses.take().filter(|a| !a.is_empty());
        s.not_ready_addresses = s.not_ready_addresses.take().filter(|a| !a.is_empty());
    }
    subsets.retain(|s| count(s) > 0);
    (subsets, true)
}
