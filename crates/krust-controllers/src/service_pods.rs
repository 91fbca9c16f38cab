//! Which pods a Service selects and which Services a pod change concerns, shared by the
//! Endpoints and EndpointSlice controllers: Kubernetes' `GetPodServiceMemberships`
//! (`pkg/controller/util/endpoint`) and the pod and Service handlers of its
//! `endpoints_controller.go`, which queue the keys of the Services to sync.

use crate::informer::{Events, Key, WorkQueue, for_each_change, key_of};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::ResourceExt;
use kube::runtime::reflector::Store;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

/// Whether a Service selector (a plain map: every pair must match) selects `pod`.
pub(crate) fn selects(selector: &BTreeMap<String, String>, pod: &Pod) -> bool {
    let labels = pod.labels();
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Whether `service` (with a selector, not ExternalName) selects `pod`.
pub(crate) fn service_selects(service: &Service, pod: &Pod) -> bool {
    let Some(spec) = &service.spec else {
        return false;
    };
    if spec.type_.as_deref() == Some("ExternalName") {
        return false;
    }
    match &spec.selector {
        Some(selector) => pod.namespace() == service.namespace() && selects(selector, pod),
        None => false,
    }
}

/// The services in `pod`'s namespace that select it, or listed it at their last sync.
pub(crate) fn pod_services(
    services: &Store<Service>,
    members: &Mutex<HashMap<Key, HashSet<String>>>,
    pod: &Pod,
) -> Vec<Key> {
    let ns = pod.namespace();
    let name = pod.name_any();
    let members = members.lock().expect("members lock");
    services
        .state_filter(|s| {
            s.namespace() == ns
                && (service_selects(s, pod)
                    || members.get(&key_of(s)).is_some_and(|m| m.contains(&name)))
        })
        .iter()
        .map(|s| key_of(s.as_ref()))
        .collect()
}

/// Feeds `queue` the keys of the services that changes concern, as the Endpoints and
/// EndpointSlice controllers both do: a changed Service (after `on_service` saw its key and
/// whether it was deleted), the services a changed pod is or was in ([`pod_services`]), and
/// every service once a relist of either is done.
pub(crate) async fn queue_services(
    services: &Store<Service>,
    members: &Mutex<HashMap<Key, HashSet<String>>>,
    queue: &WorkQueue<Key>,
    (svc_events, pod_events): (Events<Service>, Events<Pod>),
    mut on_service: impl FnMut(&Key, bool),
) {
    let all_services = |done: bool| {
        if done {
            for s in services.state() {
                queue.add(key_of(s.as_ref()));
            }
        }
    };
    let svc_loop = for_each_change(
        svc_events,
        |svc, gone| {
            let key = key_of(svc);
            on_service(&key, gone);
            queue.add(key);
        },
        all_services,
    );
    let pod_loop = for_each_change(
        pod_events,
        |pod, _| {
            for key in pod_services(services, members, pod) {
                queue.add(key);
            }
        },
        all_services,
    );
    tokio::join!(svc_loop, pod_loop);
}
