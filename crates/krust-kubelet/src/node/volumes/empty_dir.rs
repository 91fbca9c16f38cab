//! emptyDir volumes (`pkg/volume/emptydir`): a directory of the pod, mode 0777; with
//! `medium: Memory`, a tmpfs the kubelet mounts there itself (limited to `sizeLimit`), so
//! that all containers of the pod share it; it is unmounted at teardown. With `fsGroup` the
//! directory is that group's, setgid.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use k8s_openapi::api::core::v1::EmptyDirVolumeSource;

use super::{VolumeError, host_mounts};
use krust_api::quantity;

/// Makes the directory (and mounts the tmpfs) of an emptyDir at `dir`; with the pod's
/// `fsGroup`, the directory belongs to that group and is setgid, so files made in it do too
/// (the kubelet's `SetVolumeOwnership`).
pub fn setup(
    dir: &Path,
    volume: &str,
    source: &EmptyDirVolumeSource,
    fs_group: Option<u32>,
) -> Result<(), VolumeError> {
    let err = |e: std::io::Error| VolumeError::new(volume, e.to_string());
    std::fs::create_dir_all(dir).map_err(err)?;
    if source.medium.as_deref() == Some("Memory") {
        let size = source
            .size_limit
            .as_ref()
            .and_then(|q| quantity::value(&q.0))
            .filter(|v| *v > 0)
            .map(|v| v as u64);
        host_mounts::mount_tmpfs(dir, size).map_err(err)?;
    }
    let mut mode = 0o777;
    if let Some(group) = fs_group {
        std::os::unix::fs::chown(dir, None, Some(group)).map_err(err)?;
        mode |= 0o2000;
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).map_err(err)
}
