//! A container's mounts (the kubelet's `makeMounts`, with containerd's additions): its
//! `volumeMounts` (`readOnly`, `subPath`, `subPathExpr`), the pod's `/etc/hosts`,
//! `/etc/hostname` and `/etc/resolv.conf`, and its termination-message file; ordered parents first, as containerd
//! orders them.

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, Pod, VolumeMount};
use krust_runtime::{Mount, MountKind};

use super::hosts::PodFiles;
use super::{PodVolumes, pod_dir};
use crate::node::error::ConfigError;
use crate::node::expansion::expand;

/// Where the termination message goes when the container does not say.
pub const DEFAULT_TERMINATION_MESSAGE_PATH: &str = "/dev/termination-log";

/// The host file whose content becomes the container's termination message, for this
/// attempt: `<pod dir>/containers/<name>/<attempt>`.
pub fn termination_log_path(pods_dir: &Path, uid: &str, container: &str, attempt: u32) -> PathBuf {
    pod_dir(pods_dir, uid)
        .join("containers")
        .join(container)
        .join(attempt.to_string())
}

/// Everything a container of the pod mounts. `env` is the container's resolved env
/// (for `subPathExpr`); `pod_files` the pod's hosts and hostname files, when written.
#[derive(Clone, Copy)]
pub struct MountsInput<'a> {
    /// The pods directory of the node.
    pub pods_dir: &'a Path,
    /// The pod.
    pub pod: &'a Pod,
    /// The container.
    pub container: &'a Container,
    /// Its environment, as the kubelet resolved it.
    pub env: &'a [(String, String)],
    /// The pod's volumes, set up.
    pub volumes: &'a PodVolumes,
    /// The pod's `/etc/hosts` and `/etc/hostname`.
    pub pod_files: Option<&'a PodFiles>,
    /// The container's restart count (names its termination-message file).
    pub attempt: u32,
    /// `readOnlyRootFilesystem`: `/etc/hostname` is then read-only too.
    pub readonly_rootfs: bool,
}

/// The container's mounts; creates missing `subPath` directories and the termination file.
pub fn container_mounts(input: &MountsInput) -> Result<Vec<Mount>, ConfigError> {
    let c = input.container;
    let mut mounts = Vec::new();
    for vm in c.volume_mounts.iter().flatten() {
        mounts.push(volume_mount(input, vm)?);
    }
    let has = |mounts: &[Mount], dest: &str| mounts.iter().any(|m| m.destination == dest);
    if let Some(files) = input.pod_files {
        if !has(&mounts, "/etc/hosts") {
            mounts.push(bind("/etc/hosts", &files.hosts, false));
        }
        if !has(&mounts, "/etc/hostname") {
            mounts.push(bind(
                "/etc/hostname",
                &files.hostname,
                input.readonly_rootfs,
            ));
        }
        if let Some(resolv) = &files.resolv_conf
            && !has(&mounts, "/etc/resolv.conf")
        {
            mounts.push(bind("/etc/resolv.conf", resolv, input.readonly_rootfs));
        }
    }
    let message_path = c
        .termination_message_path
        .as_deref()
        .unwrap_or(DEFAULT_TERMINATION_MESSAGE_PATH);
    if !message_path.is_empty() && !has(&mounts, message_path) {
        let uid = input.pod.metadata.uid.as_deref().unwrap_or_default();
        let file = termination_log_path(input.pods_dir, uid, &c.name, input.attempt);
        let io = |e: std::io::Error| ConfigError::Mount(format!("{}: {e}", file.display()));
        std::fs::create_dir_all(file.parent().expect("a parent")).map_err(io)?;
        std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o666)
            .open(&file)
            .map_err(io)?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).map_err(io)?;
        mounts.push(bind(message_path, &file, false));
    }
    mounts.sort_by_key(|m| Path::new(&m.destination).components().count());
    Ok(mounts)
}

fn bind(destination: &str, source: &Path, readonly: bool) -> Mount {
    Mount {
        destination: destination.to_string(),
        kind: MountKind::Bind {
            source: source.to_path_buf(),
        },
        readonly,
    }
}

fn volume_mount(input: &MountsInput, vm: &VolumeMount) -> Result<Mount, ConfigError> {
    let c = input.container;
    let volume = input.volumes.paths.get(&vm.name).ok_or_else(|| {
        ConfigError::Mount(format!(
            "cannot find volume {:?} to mount into container {:?}",
            vm.name, c.name
        ))
    })?;
    let sub_path = match vm.sub_path_expr.as_deref().filter(|e| !e.is_empty()) {
        Some(expr) => expand_sub_path(expr, input.env)
            .map_err(|missing| ConfigError::Mount(format!("missing value for {missing}")))?,
        None => vm.sub_path.clone().unwrap_or_default(),
    };
    let source = if sub_path.is_empty() {
        volume.clone()
    } else {
        sub_path_source(volume, &sub_path, &vm.name, &c.name)?
    };
    Ok(Mount {
        destination: vm.mount_path.clone(),
        kind: MountKind::Bind { source },
        readonly: vm.read_only == Some(true) || input.volumes.read_only.contains(&vm.name),
    })
}

/// `subPathExpr` expanded; every variable must be defined and non-empty
/// (`ExpandContainerVolumeMounts`); `Err` lists the missing ones.
fn expand_sub_path(expr: &str, env: &[(String, String)]) -> Result<String, String> {
    let missing = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let value = expand(expr, |name| {
        let v = env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone());
        if v.as_deref().is_none_or(str::is_empty) {
            missing.borrow_mut().insert(name.to_string());
        }
        Some(v.unwrap_or_default())
    });
    let missing = missing.into_inner();
    if missing.is_empty() {
        Ok(value)
    } else {
        Err(missing.into_iter().collect::<Vec<_>>().join(", "))
    }
}

/// The host path of `sub_path` in `volume`: created as a directory (with the volume's mode)
/// when missing, and refused when it is absolute, climbs with `..` or resolves (through
/// symlinks) outside the volume. As the kubelet, the last two failures do not tell the
/// user about the host's files.
fn sub_path_source(
    volume: &Path,
    sub_path: &str,
    mount: &str,
    container: &str,
) -> Result<PathBuf, ConfigError> {
    let p = Path::new(sub_path);
    if p.is_absolute() {
        return Err(ConfigError::Mount(format!(
            "error SubPath `{sub_path}` must not be an absolute path"
        )));
    }
    if p.components().any(|c| c == Component::ParentDir) {
        return Err(ConfigError::Mount(format!(
            "unable to provision SubPath `{sub_path}`: must not contain '..'"
        )));
    }
    let create_failed = |_| {
        ConfigError::Mount(format!(
            "failed to create subPath directory for volumeMount {mount:?} of container {container:?}"
        ))
    };
    let prepare_failed = || {
        ConfigError::Mount(format!(
            "failed to prepare subPath for volumeMount {mount:?} of container {container:?}"
        ))
    };
    let host = volume.join(p);
    if host.symlink_metadata().is_err() {
        let mode = std::fs::metadata(volume)
            .map_err(create_failed)?
            .permissions()
            .mode();
        std::fs::create_dir_all(&host).map_err(create_failed)?;
        std::fs::set_permissions(&host, std::fs::Permissions::from_mode(mode & 0o7777))
            .map_err(create_failed)?;
    }
    let root = std::fs::canonicalize(volume).map_err(|_| prepare_failed())?;
    let resolved = std::fs::canonicalize(&host).map_err(|_| prepare_failed())?;
    if !resolved.starts_with(&root) {
        return Err(prepare_failed());
    }
    Ok(resolved)
}
