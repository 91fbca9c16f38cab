//! One container's whole config for the runtime (the kubelet's `generateContainerConfig`
//! in `kuberuntime_container.go`, with what containerd's CRI plugin adds from the image):
//! argv, env, working directory, user, capabilities, mounts, cgroup limits, terminal and
//! stdin, stop signal (`lifecycle.stopSignal`, else the image's), the CRI labels and the
//! log path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Container;
use krust_image::oci::RunConfig;
use krust_runtime::ContainerSpec;

use super::command::argv;
use super::context::PodContext;
use super::env::{container_env, merge_with_image};
use super::error::ConfigError;
use super::resources::container_resources;
use super::security::{host_capabilities, security};
use super::volumes::PodVolumes;
use super::volumes::hosts::{PodFiles, uts_hostname};
use super::volumes::mounts::{MountsInput, container_mounts};

/// CRI label: the pod's name.
pub const LABEL_POD_NAME: &str = "io.kubernetes.pod.name";
/// CRI label: the pod's namespace.
pub const LABEL_POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
/// CRI label: the pod's uid.
pub const LABEL_POD_UID: &str = "io.kubernetes.pod.uid";
/// CRI label: the container's name.
pub const LABEL_CONTAINER_NAME: &str = "io.kubernetes.container.name";

/// What the kubelet knows when it creates one container.
#[derive(Clone, Copy)]
pub struct ContainerInput<'a> {
    /// The pod, its addresses, its node, the objects it refers to.
    pub ctx: PodContext<'a>,
    /// The container (regular, init or ephemeral).
    pub container: &'a Container,
    /// Its restart count.
    pub attempt: u32,
    /// The sandbox it runs in.
    pub sandbox_id: &'a str,
    /// The digest the image resolved to (`imageID`).
    pub image_id: &'a str,
    /// The image's overlayfs lower directories, topmost first.
    pub lower_dirs: &'a [PathBuf],
    /// The image's execution defaults.
    pub image_config: &'a RunConfig,
    /// The node's pods directory (`<data dir>/pods`).
    pub pods_dir: &'a Path,
    /// The node's pod logs directory (`/var/log/pods` upstream).
    pub logs_dir: &'a Path,
    /// The pod's volumes, as [`super::volumes::setup`] returned them.
    pub volumes: &'a PodVolumes,
    /// The pod's hosts and hostname files ([`super::volumes::hosts::write_pod_files`]).
    pub pod_files: Option<&'a PodFiles>,
}

/// A container's config and the warnings met building it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerConfig {
    /// What the runtime creates.
    pub spec: ContainerSpec,
    /// Event messages of reason [`super::env::INVALID_ENV_NAMES`].
    pub env_warnings: Vec<String>,
}

/// `<logs dir>/<namespace>_<pod>_<uid>/<container>/<attempt>.log`.
pub fn log_path(logs_dir: &Path, ctx: &PodContext, container: &str, attempt: u32) -> PathBuf {
    logs_dir
        .join(format!("{}_{}_{}", ctx.namespace(), ctx.name(), ctx.uid()))
        .join(container)
        .join(format!("{attempt}.log"))
}

/// The container's config for the runtime; `Err` is a `CreateContainerConfigError`.
pub fn container_spec(input: &ContainerInput) -> Result<ContainerSpec, ConfigError> {
    container_config(input).map(|c| c.spec)
}

/// `HOSTNAME` (the sandbox's hostname), then the image's `Env`: containerd's CRI plugin sets
/// `HOSTNAME` first, so that the image and the pod may override it.
fn image_env(ctx: &PodContext, image: &RunConfig) -> Vec<String> {
    let node = ctx
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or_default();
    let hostname = uts_hostname(ctx.pod, node, super::prepare::CLUSTER_DOMAIN);
    std::iter::once(format!("HOSTNAME={hostname}"))
        .chain(image.env.iter().flatten().cloned())
        .collect()
}

/// [`container_spec`] with the warnings the kubelet posts as Events.
pub fn container_config(input: &ContainerInput) -> Result<ContainerConfig, ConfigError> {
    let ctx = &input.ctx;
    let c = input.container;
    let image = input.image_config;
    let env = container_env(ctx, c)?;
    let sec = security(
        ctx.pod,
        c,
        image.user.as_deref(),
        input.lower_dirs,
        &host_capabilities(),
    )?;
    let mounts = container_mounts(&MountsInput {
        pods_dir: input.pods_dir,
        pod: ctx.pod,
        container: c,
        env: &env.vars,
        volumes: input.volumes,
        // As the kubelet, no hosts file before the pod has an address.
        pod_files: input.pod_files.filter(|_| !ctx.pod_ips.is_empty()),
        attempt: input.attempt,
        readonly_rootfs: sec.readonly_rootfs,
    })?;
    let cwd = c
        .working_dir
        .clone()
        .filter(|w| !w.is_empty())
        .or_else(|| image.working_dir.clone().filter(|w| !w.is_empty()))
        .unwrap_or_else(|| "/".to_string());
    let labels = BTreeMap::from([
        (LABEL_POD_NAME.to_string(), ctx.name().to_string()),
        (LABEL_POD_NAMESPACE.to_string(), ctx.namespace().to_string()),
        (LABEL_POD_UID.to_string(), ctx.uid().to_string()),
        (LABEL_CONTAINER_NAME.to_string(), c.name.clone()),
    ]);
    let spec = ContainerSpec {
        sandbox_id: input.sandbox_id.to_string(),
        name: c.name.clone(),
        attempt: input.attempt,
        labels,
        image: c.image.clone().unwrap_or_default(),
        image_id: input.image_id.to_string(),
        lower_dirs: input.lower_dirs.to_vec(),
        readonly_rootfs: sec.readonly_rootfs,
        args: argv(c, image, &env.vars),
        env: merge_with_image(&image_env(ctx, image), &env.vars),
        cwd,
        user: sec.user,
        capabilities: sec.capabilities,
        privileged: sec.privileged,
        no_new_privileges: sec.no_new_privileges,
        seccomp_runtime_default: sec.seccomp_runtime_default,
        mounts,
        resources: container_resources(c),
        tty: c.tty == Some(true),
        stdin: c.stdin == Some(true),
        stdin_once: c.stdin_once == Some(true),
        log_path: log_path(input.logs_dir, ctx, &c.name, input.attempt),
        stop_signal: c
            .lifecycle
            .as_ref()
            .and_then(|l| l.stop_signal.clone())
            .or_else(|| image.stop_signal.clone())
            .filter(|s| !s.is_empty()),
        // An ephemeral container's target is joined by the worker, which knows its process.
        pid_namespace: None,
    };
    Ok(ContainerConfig {
        spec,
        env_warnings: env.warnings,
    })
}

#[cfg(test)]
#[path = "container_tests.rs"]
mod tests;
