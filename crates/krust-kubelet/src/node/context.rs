//! What the kubelet knows of a pod beyond the Pod object when it builds its containers: the
//! ConfigMaps and Secrets it fetched (the kubelet's configmap and secret managers), the
//! addresses of the pod and of its node, and the node's allocatable resources.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// ConfigMaps and Secrets the caller fetched; `None` means not found.
pub trait Objects {
    /// The ConfigMap `namespace/name`.
    fn config_map(&self, namespace: &str, name: &str) -> Option<&ConfigMap>;
    /// The Secret `namespace/name`.
    fn secret(&self, namespace: &str, name: &str) -> Option<&Secret>;
    /// The Services of the pod's namespace and `default/kubernetes`, for service links.
    fn services(&self) -> &[Service] {
        &[]
    }
    /// The pod's service account token for `audience` (empty: the API's) living `seconds`,
    /// or why it could not be had.
    fn token(&self, audience: &str, seconds: i64) -> Option<&Result<String, String>> {
        let _ = (audience, seconds);
        None
    }
}

/// A map of fetched objects by `(namespace, name)`, the simplest [`Objects`].
#[derive(Clone, Debug, Default)]
pub struct ObjectMap {
    /// ConfigMaps by namespace and name.
    pub config_maps: BTreeMap<(String, String), ConfigMap>,
    /// Secrets by namespace and name.
    pub secrets: BTreeMap<(String, String), Secret>,
    /// Services for the service links.
    pub services: Vec<Service>,
    /// Service account tokens by audience and lifetime.
    pub tokens: BTreeMap<(String, i64), Result<String, String>>,
}

impl ObjectMap {
    /// Adds a ConfigMap under its own namespace and name.
    pub fn add_config_map(&mut self, cm: ConfigMap) {
        let key = key_of(&cm.metadata);
        self.config_maps.insert(key, cm);
    }

    /// Adds a Secret under its own namespace and name.
    pub fn add_secret(&mut self, secret: Secret) {
        let key = key_of(&secret.metadata);
        self.secrets.insert(key, secret);
    }
}

fn key_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> (String, String) {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

impl Objects for ObjectMap {
    fn config_map(&self, namespace: &str, name: &str) -> Option<&ConfigMap> {
        self.config_maps
            .get(&(namespace.to_string(), name.to_string()))
    }

    fn secret(&self, namespace: &str, name: &str) -> Option<&Secret> {
        self.secrets.get(&(namespace.to_string(), name.to_string()))
    }

    fn services(&self) -> &[Service] {
        &self.services
    }

    fn token(&self, audience: &str, seconds: i64) -> Option<&Result<String, String>> {
        self.tokens.get(&(audience.to_string(), seconds))
    }
}

/// A pod as its node sees it.
#[derive(Clone, Copy)]
pub struct PodContext<'a> {
    /// The pod.
    pub pod: &'a Pod,
    /// The pod's addresses (its sandbox's), first the primary one; empty with none yet.
    pub pod_ips: &'a [String],
    /// The node's addresses, first the primary one.
    pub host_ips: &'a [String],
    /// The node's allocatable resources (`status.allocatable`): the default of limits a
    /// container does not set, for the downward API.
    pub node_allocatable: &'a BTreeMap<String, Quantity>,
    /// The ConfigMaps and Secrets the pod refers to, as fetched.
    pub objects: &'a dyn Objects,
}

impl PodContext<'_> {
    /// The pod's namespace.
    pub fn namespace(&self) -> &str {
        self.pod.metadata.namespace.as_deref().unwrap_or("default")
    }

    /// The pod's name.
    pub fn name(&self) -> &str {
        self.pod.metadata.name.as_deref().unwrap_or_default()
    }

    /// The pod's uid.
    pub fn uid(&self) -> &str {
        self.pod.metadata.uid.as_deref().unwrap_or_default()
    }
}
