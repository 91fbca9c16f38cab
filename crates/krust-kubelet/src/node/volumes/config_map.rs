//! configMap volumes (`pkg/volume/configmap`): a ConfigMap's `data` and `binaryData` as
//! files, all keys or the listed `items`, with `defaultMode` or each item's mode.

use k8s_openapi::api::core::v1::{ConfigMap, ConfigMapVolumeSource, KeyToPath};

use super::atomic_writer::Payload;
use super::{DEFAULT_MODE, VolumeError, keys};
use crate::node::context::PodContext;

/// The files of a ConfigMap (`MakePayload`); `None` for a missing optional ConfigMap
/// (the volume stays empty).
pub fn payload(
    ctx: &PodContext,
    volume: &str,
    source: &ConfigMapVolumeSource,
) -> Result<Payload, VolumeError> {
    let mode = source.default_mode.unwrap_or(DEFAULT_MODE);
    let optional = source.optional == Some(true);
    match ctx.objects.config_map(ctx.namespace(), &source.name) {
        Some(cm) => make_payload(cm, source.items.as_deref(), mode, optional)
            .map_err(|m| VolumeError::new(volume, m)),
        None if optional => Ok(Payload::new()),
        None => Err(VolumeError::new(
            volume,
            format!("configmap {:?} not found", source.name),
        )),
    }
}

/// The files of `cm` for `items` (all keys without), shared with projected volumes.
pub fn make_payload(
    cm: &ConfigMap,
    items: Option<&[KeyToPath]>,
    default_mode: i32,
    optional: bool,
) -> Result<Payload, String> {
    let binary = cm.binary_data.iter().flatten();
    let text = cm.data.iter().flatten();
    let values = binary
        .map(|(k, v)| (k.as_str(), v.0.clone()))
        .chain(text.map(|(k, v)| (k.as_str(), v.as_bytes().to_vec())))
        .collect();
    keys::select(values, items, default_mode, optional, |key| {
        format!("configmap references non-existent config key: {key}")
    })
}
