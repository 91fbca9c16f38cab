//! The EndpointSlice controller: for every Service with a selector, `discovery.k8s.io/v1`
//! EndpointSlices `<service>-<random>` (IPv4, at most 100 endpoints each, one slice per
//! distinct port set) listing the selected pods with their `ready`/`serving`/`terminating`
//! conditions, node, targetRef and resolved ports, owned by the Service. A service without
//! endpoints keeps one empty placeholder slice, as in Kubernetes. `kubectl describe svc`
//! reads its endpoints from these.
//!
//! Slices get generated names, so a sync that ran on a store not yet showing our last write
//! would create duplicates: as Kubernetes' `EndpointSliceTracker`, the controller remembers
//! what it wrote and waits for the store to show it before syncing that service again.

mod plan;

use crate::endpoint_util::{self, HEADLESS, is_headless, should_be_in_endpoints};
use crate::informer::{Key, Outcome, WorkQueue, for_each_change, reflect, synced};
use crate::informers::Informers;
use crate::pod_util::is_ready;
use crate::service_pods::{queue_services, selects};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use krust_component::events::{Recorder, versioned_reference};
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `kubernetes.io/service-name`: the service a slice belongs to.
pub const SERVICE_NAME: &str = "kubernetes.io/service-name";
/// `endpointslice.kubernetes.io/managed-by`.
pub const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// Its value for the slices this controller manages.
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
/// At most this many endpoints per slice (kube-controller-manager's default).
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;
const WORKERS: usize = 4;
/// How long a write of ours may stay unseen in the store before we stop waiting for it.
const EXPECTATION_TIMEOUT: Duration = Duration::from_secs(5);

/// The service key of a slice managed by this controller.
fn slice_service(slice: &EndpointSlice) -> Option<Key> {
    let labels = slice.labels();
    if labels.get(MANAGED_BY).map(String::as_str) != Some(CONTROLLER_NAME) {
        return None;
    }
    Some((slice.namespace()?, labels.get(SERVICE_NAME)?.clone()))
}

/// A write of ours the store must show before the service is synced again.
enum Expect {
    /// The slice exists with at least this resourceVersion.
    Present(String, String),
    /// The slice is gone.
    Absent(String),
}

struct Ctx {
    client: Client,
    recorder: Recorder,
    services: Store<Service>,
    pods: Store<Pod>,
    slices: Store<EndpointSlice>,
    members: Mutex<HashMap<Key, HashSet<String>>>,
    expectations: Mutex<HashMap<Key, (Instant, Vec<Expect>)>>,
}

/// Runs this controller until it fails.
pub async fn run(informers: Informers) -> anyhow::Result<()> {
    let client = informers.client().clone();
    let (services, svc_events) = informers.reflect::<Service>();
    let (pods, pod_events) = informers.reflect::<Pod>();
    let (slices, slice_events) = reflect(
        Api::<EndpointSlice>::all(client.clone()),
        watcher::Config::default().labels(&format!("{MANAGED_BY}={CONTROLLER_NAME}")),
    );
    let ctx = Arc::new(Ctx {
        recorder: Recorder::direct(client.clone(), CONTROLLER_NAME),
        client,
        services,
        pods,
        slices,
        members: Mutex::default(),
        expectations: Mutex::default(),
    });
    let queue = WorkQueue::<Key>::new();
    let svc_and_pod_loops = queue_services(
        &ctx.services,
        &ctx.members,
        &queue,
        (svc_events, pod_events),
        |_, _| {},
    );
    let slice_loop = for_each_change(
        slice_events,
        |slice: &EndpointSlice, _| {
            if let Some(key) = slice_service(slice) {
                queue.add(key);
            }
        },
        |done| {
            if done {
                for s in ctx.slices.state() {
                    if let Some(key) = slice_service(&s) {
                        queue.add(key);
                    }
                }
            }
        },
    );
    let workers = async {
        synced(&[&ctx.services, &ctx.pods, &ctx.slices]).await;
        queue.clone().run(WORKERS, |key| sync(&ctx, key)).await
    };
    tokio::join!(svc_and_pod_loops, slice_loop, workers);
    anyhow::bail!("the endpointslice controller's watches ended")
}

impl Ctx {
    /// Whether the store shows every write of ours for `key` (forgetting those it shows, and
    /// all of them once they are too old).
    fn store_caught_up(&self, key: &Key) -> bool {
        let mut all = self.expectations.lock().expect("expectations lock");
        let Some((since, expects)) = all.get_mut(key) else {
            return true;
        };
        if since.elapsed() > EXPECTATION_TIMEOUT {
            all.remove(key);
            return true;
        }
        expects.retain(|e| match e {
            Expect::Present(name, rv) => {
                let seen = self.slices.get(&ObjectRef::new(name).within(&key.0));
                !seen.is_some_and(|s| version_at_least(s.resource_version().as_deref(), rv))
            }
            Expect::Absent(name) => self
                .slices
                .get(&ObjectRef::new(name).within(&key.0))
                .is_some(),
        });
        if expects.is_empty() {
            all.remove(key);
            true
        } else {
            false
        }
    }

    fn expect(&self, key: &Key, expects: Vec<Expect>) {
        if !expects.is_empty() {
            self.expectations
                .lock()
                .expect("expectations lock")
                .insert(key.clone(), (Instant::now(), expects));
        }
    }

    /// The managed slices of a service, by name.
    fn slices_of(&self, key: &Key) -> Vec<Arc<EndpointSlice>> {
        let mut slices = self
            .slices
            .state_filter(|s| slice_service(s).as_ref() == Some(key));
        slices.sort_by_key(|s| s.name_any());
        slices
    }
}

/// resourceVersions are opaque to clients, but krust's are the store revision: compare them
/// as numbers when both parse, else ask for equality.
fn version_at_least(seen: Option<&str>, want: &str) -> bool {
    match (
        seen.and_then(|s| s.parse::<u64>().ok()),
        want.parse::<u64>(),
    ) {
        (Some(a), Ok(b)) => a >= b,
        _ => seen == Some(want),
    }
}

async fn sync(ctx: &Ctx, key: Key) -> Outcome {
    if !ctx.store_caught_up(&key) {
        return Ok(Some(Duration::from_millis(50)));
    }
    let (ns, name) = &key;
    let api: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), ns);
    let existing = ctx.slices_of(&key);
    let Some(service) = ctx.services.get(&ObjectRef::new(name).within(ns)) else {
        // The garbage collector deletes them too (they are owned); do not wait for it.
        ctx.members.lock().expect("members lock").remove(&key);
        let mut expects = Vec::new();
        for s in existing {
            delete(&api, &s.name_any()).await?;
            expects.push(Expect::Absent(s.name_any()));
        }
        ctx.expect(&key, expects);
        return Ok(None);
    };
    let Some(spec) = &service.spec else {
        return Ok(None);
    };
    if spec.type_.as_deref() == Some("ExternalName") || spec.selector.is_none() {
        return Ok(None);
    }
    let (groups, included) = desired_endpoints(&service, &ctx.pods);
    ctx.members
        .lock()
        .expect("members lock")
        .insert(key.clone(), included);
    let meta = SliceMeta {
        service: name.clone(),
        namespace: ns.clone(),
        labels: desired_labels(&service),
        owner: owner_reference(&service),
    };
    let plan = plan::plan(&existing, groups, &meta);
    let pp = PostParams {
        field_manager: Some(CONTROLLER_NAME.into()),
        ..Default::default()
    };
    let mut expects = Vec::new();
    let result = apply(&api, &pp, &service, plan, &mut expects).await;
    ctx.expect(&key, expects);
    if let Err(e) = &result
        && !matches!(e.downcast_ref::<kube::Error>(), Some(kube::Error::Api(s)) if s.code == 409 || s.code == 404)
    {
        let message = format!("Error updating Endpoint Slices for Service {ns}/{name}: {e}");
        ctx.recorder
            .warning(
                &versioned_reference(service.as_ref()),
                "FailedToUpdateEndpointSlices",
                &message,
            )
            .await;
    }
    result.map(|()| None)
}

/// Carries out a plan, recording each write for [`Ctx::store_caught_up`].
async fn apply(
    api: &Api<EndpointSlice>,
    pp: &PostParams,
    service: &Service,
    plan: plan::Plan,
    expects: &mut Vec<Expect>,
) -> anyhow::Result<()> {
    for slice in plan.update {
        let name = slice.name_any();
        match api.replace(&name, pp, &slice).await {
            Ok(s) => expects.push(Expect::Present(
                name,
                s.resource_version().unwrap_or_default(),
            )),
            Err(e) => return Err(e.into()),
        }
    }
    for slice in plan.create {
        match api.create(pp, &slice).await {
            Ok(s) => expects.push(Expect::Present(
                s.name_any(),
                s.resource_version().unwrap_or_default(),
            )),
            Err(kube::Error::Api(e)) if e.code == 403 && e.reason == "Forbidden" => {
                // The namespace is terminating.
                tracing::debug!(service = %service.name_any(), error = %e.message, "cannot create slices");
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
    }
    for name in plan.delete {
        delete(api, &name).await?;
        expects.push(Expect::Absent(name));
    }
    Ok(())
}

async fn delete(api: &Api<EndpointSlice>, name: &str) -> anyhow::Result<()> {
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// What every slice of a service carries besides its endpoints.
pub(crate) struct SliceMeta {
    pub service: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub owner: OwnerReference,
}

impl SliceMeta {
    /// A new, empty slice (named by the server) for the service.
    fn new_slice(&self) -> EndpointSlice {
        EndpointSlice {
            metadata: ObjectMeta {
                generate_name: Some(format!("{}-", self.service)),
                namespace: Some(self.namespace.clone()),
                labels: Some(self.labels.clone()),
                owner_references: Some(vec![self.owner.clone()]),
                ..Default::default()
            },
            address_type: "IPv4".into(),
            endpoints: Vec::new(),
            ports: Some(Vec::new()),
        }
    }
}

/// The service's labels (but for the two slice labels), the headless label if it applies,
/// then the service name and managed-by labels.
fn desired_labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = service
        .labels()
        .iter()
        .filter(|(k, _)| *k != SERVICE_NAME && *k != MANAGED_BY)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if is_headless(service) {
        labels.insert(HEADLESS.into(), String::new());
    } else {
        labels.remove(HEADLESS);
    }
    labels.insert(SERVICE_NAME.into(), service.name_any());
    labels.insert(MANAGED_BY.into(), CONTROLLER_NAME.into());
    labels
}

fn owner_reference(service: &Service) -> OwnerReference {
    OwnerReference {
        api_version: "v1".into(),
        kind: "Service".into(),
        name: service.name_any(),
        uid: service.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// A port set, comparable.
pub(crate) type PortsKey = Vec<(String, i32, String, String)>;

/// Desired endpoints grouped by port set: the ports, and the endpoints (by pod name).
pub(crate) type Groups = BTreeMap<PortsKey, (Vec<EndpointPort>, Vec<Endpoint>)>;

pub(crate) fn ports_key(ports: &[EndpointPort]) -> PortsKey {
    let mut key: PortsKey = ports
        .iter()
        .map(|p| {
            (
                p.name.clone().unwrap_or_default(),
                p.port.unwrap_or_default(),
                p.protocol.clone().unwrap_or_default(),
                p.app_protocol.clone().unwrap_or_default(),
            )
        })
        .collect();
    key.sort();
    key
}

/// The endpoints of the selected pods grouped by their resolved port set (each group sorted
/// by pod name), and the names of the pods listed.
fn desired_endpoints(service: &Service, pods: &Store<Pod>) -> (Groups, HashSet<String>) {
    let spec = service.spec.as_ref().expect("checked by the caller");
    let selector = spec.selector.clone().unwrap_or_default();
    let ns = service.namespace();
    let publish = spec.publish_not_ready_addresses.unwrap_or(false);
    let service_ports = spec.ports.clone().unwrap_or_default();
    let mut groups = Groups::new();
    let mut included = HashSet::new();
    let mut selected = pods.state_filter(|p| p.namespace() == ns && selects(&selector, p));
    selected.sort_by_key(|p| p.name_any());
    for pod in selected {
        // Terminating pods stay, with `terminating: true`.
        if !should_be_in_endpoints(&pod, true) {
            continue;
        }
        let mut ports: Vec<EndpointPort> = service_ports
            .iter()
            .filter_map(|sp| {
                let port = endpoint_util::find_port(&pod, sp)?;
                Some(EndpointPort {
                    name: Some(sp.name.clone().unwrap_or_default()),
                    port: Some(port),
                    protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                    app_protocol: sp.app_protocol.clone(),
                })
            })
            .collect();
        ports.sort_by_key(|p| ports_key(std::slice::from_ref(p)));
        let serving = is_ready(&pod);
        let terminating = pod.metadata.deletion_timestamp.is_some();
        let endpoint = Endpoint {
            addresses: vec![endpoint_util::ipv4(&pod).unwrap_or_default().to_string()],
            conditions: Some(EndpointConditions {
                ready: Some(publish || (serving && !terminating)),
                serving: Some(serving),
                terminating: Some(terminating),
            }),
            hostname: endpoint_util::hostname(&pod, service),
            node_name: endpoint_util::node_name(&pod),
            target_ref: Some(endpoint_util::target_ref(&pod)),
            ..Default::default()
        };
        included.insert(pod.name_any());
        groups
            .entry(ports_key(&ports))
            .or_insert_with(|| (ports, Vec::new()))
            .1
            .push(endpoint);
    }
    (groups, included)
}
