//! configMap volumes (`pkg/volume/configmap`): a ConfigMap's `data` and `binaryData` as
//! files, all keys or the listed `items`, with `defaultMode` or each item's mode.

use k8s_openapi::api::core::v1::{ConfigMap, ConfigMapVolumeSource, KeyToPath};

use super::atomic_writer::{FileProjection, Payload};
use super::{DEFAULT_MODE, VolumeError};
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
    let get = |key: &str| -> Option<Vec<u8>> {
        cm.data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|v| v.as_bytes().to_vec())
            .or_else(|| {
                cm.binary_data
                    .as_ref()
                    .and_then(|d| d.get(key))
                    .map(|b| b.0.clone())
            })
    };
    let mut out = Payload::new();
    match items {
        Some(items) if !items.is_empty() => {
            for item in items {
                match get(&item.key) {
                    Some(data) => {
                        let mode = item.mode.unwrap_or(default_mode) as u32;
                        out.insert(item.path.clone(), FileProjection { data, mode });
                    }
                    None if optional => continue,
                    None => {
                        return Err(format!(
                            "configmap references non-existent config key: {}",
                            item.key
                        ));
                    }
                }
            }
        }
        _ => {
            let keys = cm.data.iter().flatten().map(|(k, _)| k);
            let keys = keys.chain(cm.binary_data.iter().flatten().map(|(k, _)| k));
            for key in keys {
                let data = get(key).unwrap_or_default();
                out.insert(
                    key.clone(),
                    FileProjection {
                        data,
                        mode: default_mode as u32,
                    },
                );
            }
        }
    }
    Ok(out)
}
