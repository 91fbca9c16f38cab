//! A pod's volumes on the host, as the kubelet's volume manager and plugins materialize them
//! under `<pods dir>/<uid>/volumes/<plugin>/<name>` (`kubernetes.io~empty-dir`,
//! `kubernetes.io~configmap`, `kubernetes.io~secret`, `kubernetes.io~downward-api`,
//! `kubernetes.io~projected`; hostPath volumes are the host path itself), the container
//! mounts made of them ([`mounts`]), the pod's `/etc/hosts` and `/etc/hostname` ([`hosts`]),
//! and the teardown of it all.

pub mod atomic_writer;
pub mod config_map;
pub mod downward_api;
pub mod empty_dir;
pub mod host_mounts;
pub mod host_path;
pub mod hosts;
pub mod keys;
pub mod mounts;
pub mod projected;
pub mod secret;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Volume;

use super::context::PodContext;

/// The file mode of configMap, secret, downwardAPI and projected files by default.
pub const DEFAULT_MODE: i32 = 0o644;

/// The Event reason of a volume that cannot be set up.
pub const FAILED_MOUNT: &str = "FailedMount";

/// A volume that cannot be set up; `Display` is the kubelet's `FailedMount` Event message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("MountVolume.SetUp failed for volume {volume:?} : {message}")]
pub struct VolumeError {
    /// The volume's name in the pod.
    pub volume: String,
    /// Why, as the volume plugin says it.
    pub message: String,
}

impl VolumeError {
    /// An error of `volume`.
    pub fn new(volume: &str, message: impl Into<String>) -> Self {
        VolumeError {
            volume: volume.to_string(),
            message: message.into(),
        }
    }
}

/// The host paths of a pod's volumes by volume name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodVolumes {
    /// Volume name → the path containers mount.
    pub paths: BTreeMap<String, PathBuf>,
    /// Volumes always mounted read-only (configMap, secret, downwardAPI, projected: their
    /// plugins' `ReadOnly` attribute), whatever `volumeMounts[].readOnly` says.
    pub read_only: BTreeSet<String>,
}

/// `<pods dir>/<uid>`: everything of the pod on the node.
pub fn pod_dir(pods_dir: &Path, uid: &str) -> PathBuf {
    pods_dir.join(uid)
}

/// The plugin directory name of a volume source kind, `None` for hostPath (and for kinds
/// krust does not support).
fn plugin_of(v: &Volume) -> Option<&'static str> {
    if v.empty_dir.is_some() {
        Some("kubernetes.io~empty-dir")
    } else if v.config_map.is_some() {
        Some("kubernetes.io~configmap")
    } else if v.secret.is_some() {
        Some("kubernetes.io~secret")
    } else if v.downward_api.is_some() {
        Some("kubernetes.io~downward-api")
    } else if v.projected.is_some() {
        Some("kubernetes.io~projected")
    } else {
        None
    }
}

/// The directory of volume `v` of the pod of uid `uid`, or the host path of a hostPath.
pub fn volume_path(pods_dir: &Path, uid: &str, v: &Volume) -> Option<PathBuf> {
    if let Some(h) = &v.host_path {
        return Some(PathBuf::from(&h.path));
    }
    let plugin = plugin_of(v)?;
    Some(
        pod_dir(pods_dir, uid)
            .join("volumes")
            .join(plugin)
            .join(&v.name),
    )
}

/// Sets up every volume of the pod (idempotent: the kubelet calls it on each sync), and
/// returns their host paths. The first volume that fails stops it.
pub fn setup(pods_dir: &Path, ctx: &PodContext) -> Result<PodVolumes, VolumeError> {
    let mut out = PodVolumes::default();
    for v in volumes(ctx) {
        let path = volume_path(pods_dir, ctx.uid(), v)
            .ok_or_else(|| VolumeError::new(&v.name, "volume type not supported by krust yet"))?;
        if let Some(source) = &v.empty_dir {
            empty_dir::setup(&path, &v.name, source, fs_group(ctx))?;
        } else if let Some(source) = &v.host_path {
            host_path::setup(&v.name, source)?;
        } else {
            write_projection(ctx, v, &path)?;
            out.read_only.insert(v.name.clone());
        }
        out.paths.insert(v.name.clone(), path);
    }
    Ok(out)
}

/// Rewrites the configMap, secret, downwardAPI and projected volumes from the current
/// objects (the kubelet's periodic remount after a ConfigMap or Secret changed, or labels
/// and annotations did); each changes atomically. Volumes not set up (or torn down) are left
/// alone. Returns the names of volumes that changed.
pub fn update(pods_dir: &Path, ctx: &PodContext) -> Result<Vec<String>, VolumeError> {
    let mut changed = Vec::new();
    for v in volumes(ctx) {
        if v.empty_dir.is_some() || v.host_path.is_some() {
            continue;
        }
        if let Some(path) = volume_path(pods_dir, ctx.uid(), v)
            && path.is_dir()
            && write_projection(ctx, v, &path)?
        {
            changed.push(v.name.clone());
        }
    }
    Ok(changed)
}

fn volumes<'a>(ctx: &PodContext<'a>) -> impl Iterator<Item = &'a Volume> {
    ctx.pod
        .spec
        .as_ref()
        .into_iter()
        .flat_map(|s| s.volumes.iter().flatten())
}

/// Writes the files of a configMap, secret, downwardAPI or projected volume.
fn write_projection(ctx: &PodContext, v: &Volume, path: &Path) -> Result<bool, VolumeError> {
    let payload = if let Some(s) = &v.config_map {
        config_map::payload(ctx, &v.name, s)?
    } else if let Some(s) = &v.secret {
        secret::payload(ctx, &v.name, s)?
    } else if let Some(s) = &v.downward_api {
        downward_api::payload(ctx, &v.name, s)?
    } else if let Some(s) = &v.projected {
        projected::payload(ctx, &v.name, s)?
    } else {
        return Err(VolumeError::new(
            &v.name,
            "volume type not supported by krust yet",
        ));
    };
    atomic_writer::write(path, &payload, fs_group(ctx))
        .map_err(|e| VolumeError::new(&v.name, e.to_string()))
}

/// The pod's `fsGroup`, the group its volumes' files belong to.
fn fs_group(ctx: &PodContext) -> Option<u32> {
    let sc = ctx.pod.spec.as_ref()?.security_context.as_ref()?;
    sc.fs_group.and_then(|g| u32::try_from(g).ok())
}

/// Removes the pod's directory, unmounting first whatever is mounted under it (tmpfs
/// emptyDirs, and anything a runtime left). Nothing to remove is no error.
pub fn teardown(pods_dir: &Path, uid: &str) -> io::Result<()> {
    if uid.is_empty() || uid.contains('/') || uid.starts_with('.') {
        return Err(io::Error::other(format!("not a pod uid: {uid:?}")));
    }
    let dir = pod_dir(pods_dir, uid);
    host_mounts::unmount_under(&dir)?;
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
