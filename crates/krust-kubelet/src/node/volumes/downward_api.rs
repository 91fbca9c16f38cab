//! downwardAPI volumes (`pkg/volume/downwardapi`): each item a file holding a pod field
//! (`fieldRef`) or a container's resource (`resourceFieldRef`).

use k8s_openapi::api::core::v1::{DownwardAPIVolumeFile, DownwardAPIVolumeSource};

use super::atomic_writer::{FileProjection, Payload};
use super::{DEFAULT_MODE, VolumeError};
use crate::node::context::PodContext;
use crate::node::fieldpath;

/// The files of a downwardAPI volume.
pub fn payload(
    ctx: &PodContext,
    volume: &str,
    source: &DownwardAPIVolumeSource,
) -> Result<Payload, VolumeError> {
    let mode = source.default_mode.unwrap_or(DEFAULT_MODE);
    make_payload(ctx, source.items.as_deref().unwrap_or_default(), mode)
        .map_err(|m| VolumeError::new(volume, m))
}

/// The files of `items` (`CollectData`), shared with projected volumes.
pub fn make_payload(
    ctx: &PodContext,
    items: &[DownwardAPIVolumeFile],
    default_mode: i32,
) -> Result<Payload, String> {
    let mut out = Payload::new();
    for item in items {
        let mode = item.mode.unwrap_or(default_mode) as u32;
        let value = if let Some(field) = &item.field_ref {
            fieldpath::pod_field(ctx, field)?
        } else if let Some(field) = &item.resource_field_ref {
            let name = field.container_name.as_deref().unwrap_or_default();
            let spec = ctx.pod.spec.as_ref();
            let container = spec
                .into_iter()
                .flat_map(|s| {
                    s.containers
                        .iter()
                        .chain(s.init_containers.iter().flatten())
                })
                .find(|c| c.name == name)
                .ok_or_else(|| format!("container {name:?} not found in the pod"))?;
            fieldpath::container_resource(container, field, ctx.node_allocatable)?
        } else {
            continue;
        };
        out.insert(
            item.path.clone(),
            FileProjection {
                data: value.into_bytes(),
                mode,
            },
        );
    }
    Ok(out)
}
