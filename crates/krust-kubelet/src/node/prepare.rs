//! What a pod needs before its containers run, gathered from the API and the host and
//! handed to the pure functions of this module's siblings: the ConfigMaps and Secrets it
//! refers to, its volumes and `/etc/hosts`, its sandbox, its hostPorts, and each container's
//! `ContainerSpec` (the kubelet's `kubelet_pods.go` and `kuberuntime_container.go` glue).

use std::collections::BTreeSet;
use std::path::Path;

use futures::future::join_all;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret, Service};
use krust_net::{HostPort, Protocol};
use krust_runtime::{ContainerSpec, Sandbox, SandboxSpec};
use kube::Api;

use super::Shared;
use super::container::{ContainerInput, container_config};
use super::context::{ObjectMap, PodContext};
use super::dns::{DnsConfig, NodeDns, pod_dns};
use super::images::Pulled;
use super::volumes::hosts::{PodFiles, write_pod_files, write_resolv_conf};
use super::volumes::{self, PodVolumes};

/// The cluster's DNS domain.
pub const CLUSTER_DOMAIN: &str = "cluster.local";

/// What the worker keeps of a prepared pod.
pub struct Prepared {
    pub volumes: PodVolumes,
    pub files: Option<PodFiles>,
}

/// The ConfigMaps and Secrets the pod refers to (volumes, env, envFrom) that exist now, the
/// Services of its namespace and `default/kubernetes` (service links), and the service
/// account tokens its projected volumes ask for (fresh ones from the token manager).
pub async fn objects(shared: &Shared, pod: &Pod) -> ObjectMap {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let (config_maps, secrets) = references(pod);
    let cms: Api<ConfigMap> = Api::namespaced(shared.client.clone(), namespace);
    let api: Api<Secret> = Api::namespaced(shared.client.clone(), namespace);
    let links = pod.spec.as_ref().and_then(|s| s.enable_service_links) != Some(false);
    let services = async {
        let mut services = Vec::new();
        if links {
            let api: Api<Service> = Api::namespaced(shared.client.clone(), namespace);
            if let Ok(list) = api.list(&Default::default()).await {
                services.extend(list.items);
            }
        }
        if !links || namespace != "default" {
            let default: Api<Service> = Api::namespaced(shared.client.clone(), "default");
            if let Ok(Some(s)) = default.get_opt("kubernetes").await {
                services.push(s);
            }
        }
        services
    };
    let tokens = token_sources(pod)
        .into_iter()
        .map(|(audience, seconds)| async move {
            let token = shared
                .tokens
                .get(&shared.client, pod, &audience, seconds)
                .await;
            ((audience, seconds), token)
        });
    // Each is a request of its own; they go together (a pod start waits for the slowest).
    let (cms, secrets, tokens, services) = futures::join!(
        join_all(config_maps.into_iter().map(|name| {
            let cms = cms.clone();
            async move { cms.get_opt(&name).await }
        })),
        join_all(secrets.into_iter().map(|name| {
            let api = api.clone();
            async move { api.get_opt(&name).await }
        })),
        join_all(tokens),
        services,
    );
    let mut map = ObjectMap::default();
    for cm in cms.into_iter().filter_map(|r| r.ok().flatten()) {
        map.add_config_map(cm);
    }
    for secret in secrets.into_iter().filter_map(|r| r.ok().flatten()) {
        map.add_secret(secret);
    }
    map.tokens.extend(tokens);
    map.services.extend(services);
    map
}

/// The audiences and lifetimes of a pod's projected service account tokens.
fn token_sources(pod: &Pod) -> BTreeSet<(String, i64)> {
    let volumes = pod.spec.iter().flat_map(|s| s.volumes.iter().flatten());
    volumes
        .flat_map(|v| v.projected.iter().flat_map(|p| p.sources.iter().flatten()))
        .filter_map(|s| s.service_account_token.as_ref())
        .map(|t| {
            let seconds = t.expiration_seconds;
            let seconds = seconds.unwrap_or(volumes::projected::TOKEN_SECONDS);
            (t.audience.clone().unwrap_or_default(), seconds)
        })
        .collect()
}

/// Names of the ConfigMaps and Secrets a pod refers to.
fn references(pod: &Pod) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut cms, mut secrets) = (BTreeSet::new(), BTreeSet::new());
    let Some(spec) = &pod.spec else {
        return (cms, secrets);
    };
    for v in spec.volumes.iter().flatten() {
        if let Some(cm) = &v.config_map {
            cms.insert(cm.name.clone());
        }
        if let Some(s) = v.secret.as_ref().and_then(|s| s.secret_name.clone()) {
            secrets.insert(s);
        }
        for source in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(cm) = &source.config_map {
                cms.insert(cm.name.clone());
            }
            if let Some(s) = &source.secret {
                secrets.insert(s.name.clone());
            }
        }
    }
    let containers = spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter());
    for c in containers {
        for from in c.env_from.iter().flatten() {
            if let Some(cm) = &from.config_map_ref {
                cms.insert(cm.name.clone());
            }
            if let Some(s) = &from.secret_ref {
                secrets.insert(s.name.clone());
            }
        }
        for e in c.env.iter().flatten() {
            let Some(from) = &e.value_from else { continue };
            if let Some(k) = &from.config_map_key_ref {
                cms.insert(k.name.clone());
            }
            if let Some(k) = &from.secret_key_ref {
                secrets.insert(k.name.clone());
            }
        }
    }
    (cms, secrets)
}

fn context<'a>(
    shared: &'a Shared,
    pod: &'a Pod,
    pod_ips: &'a [String],
    objects: &'a ObjectMap,
) -> PodContext<'a> {
    PodContext {
        pod,
        pod_ips,
        host_ips: std::slice::from_ref(&shared.host_ip),
        node_allocatable: &shared.allocatable,
        objects,
    }
}

/// Sets up the pod's volumes (before the sandbox, as the kubelet waits for volumes).
pub fn volumes(shared: &Shared, pod: &Pod, objects: &ObjectMap) -> Result<PodVolumes, String> {
    volumes::setup(&shared.pods_dir(), &context(shared, pod, &[], objects))
        .map_err(|e| e.to_string())
}

/// Rewrites the pod's configMap, secret, downwardAPI and projected volumes that are set up
/// from the objects as they are now; returns the names of those that changed.
pub async fn update_volumes(shared: &Shared, pod: &Pod) -> Result<Vec<String>, String> {
    let objects = objects(shared, pod).await;
    let pod_ips: Vec<String> = pod
        .status
        .iter()
        .flat_map(|s| s.pod_ips.iter().flatten())
        .map(|ip| ip.ip.clone())
        .collect();
    volumes::update(
        &shared.pods_dir(),
        &context(shared, pod, &pod_ips, &objects),
    )
    .map_err(|e| e.to_string())
}

/// Writes the pod's `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf` once it has its
/// address; returns them with the `DNSConfigForming` warnings of its DNS settings.
pub fn pod_files(
    shared: &Shared,
    pod: &Pod,
    pod_ips: &[String],
) -> Result<(PodFiles, Vec<String>), String> {
    let mut files = write_pod_files(
        &shared.pods_dir(),
        pod,
        pod_ips,
        &shared.name,
        CLUSTER_DOMAIN,
        Path::new("/etc/hosts"),
    )
    .map_err(|e| format!("writing the pod's hosts file: {e}"))?;
    let node = NodeDns {
        cluster_dns: vec![cluster_dns(shared)],
        cluster_domain: CLUSTER_DOMAIN.into(),
        host: DnsConfig::parse(
            &std::fs::read_to_string(&shared.opts.resolv_conf).unwrap_or_default(),
        ),
    };
    let (dns, warnings) = pod_dns(pod, &node);
    let path = write_resolv_conf(&shared.pods_dir(), pod, &dns.render())
        .map_err(|e| format!("writing the pod's resolv.conf: {e}"))?;
    files.resolv_conf = Some(path);
    Ok((files, warnings))
}

/// The cluster DNS address: the tenth of the service range, the `kube-system/kube-dns`
/// Service's (the kubelet's `--cluster-dns`).
pub fn cluster_dns(shared: &Shared) -> String {
    shared.opts.service_cidr.nth(10).to_string()
}

pub fn sandbox_spec(shared: &Shared, pod: &Pod) -> SandboxSpec {
    super::sandbox::sandbox_spec(pod, &shared.name, CLUSTER_DOMAIN)
}

/// The hostPorts of the pod's containers.
pub fn host_ports(pod: &Pod) -> Vec<HostPort> {
    pod.spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let host_port = u16::try_from(p.host_port?).ok().filter(|p| *p > 0)?;
            Some(HostPort {
                host_port,
                container_port: u16::try_from(p.container_port).ok()?,
                protocol: if p.protocol.as_deref() == Some("UDP") {
                    Protocol::Udp
                } else {
                    Protocol::Tcp
                },
                host_ip: p.host_ip.as_deref().and_then(|i| i.parse().ok()),
            })
        })
        .collect()
}

/// One attempt of a container, as the runtime creates it; the error is the kubelet's
/// `CreateContainerConfigError` message. Warnings (invalid env names) are returned beside.
#[allow(clippy::too_many_arguments)]
pub fn container_spec(
    shared: &Shared,
    pod: &Pod,
    c: &Container,
    sandbox: &Sandbox,
    pulled: &Pulled,
    attempt: u32,
    pod_ips: &[String],
    objects: &ObjectMap,
    prepared: &Prepared,
) -> Result<(ContainerSpec, Vec<String>), String> {
    let image_id = pulled.repo_digest();
    let input = ContainerInput {
        ctx: context(shared, pod, pod_ips, objects),
        container: c,
        attempt,
        sandbox_id: &sandbox.id,
        image_id: &image_id,
        lower_dirs: &pulled.lower_dirs,
        image_config: &pulled.config,
        pods_dir: &shared.pods_dir(),
        logs_dir: &shared.logs_dir(),
        volumes: &prepared.volumes,
        pod_files: prepared.files.as_ref(),
    };
    let config = container_config(&input).map_err(|e| e.to_string())?;
    Ok((config.spec, config.env_warnings))
}

/// Removes the pod's directory (volumes, hosts file).
pub fn teardown(shared: &Shared, uid: &str) {
    if let Err(e) = volumes::teardown(&shared.pods_dir(), uid) {
        tracing::warn!(%uid, error = %e, "removing the pod's volumes");
    }
}
