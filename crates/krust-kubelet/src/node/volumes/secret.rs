//! secret volumes (`pkg/volume/secret`): a Secret's `data` as files, all keys or the listed
//! `items`, with `defaultMode` or each item's mode.

use k8s_openapi::api::core::v1::{KeyToPath, Secret, SecretVolumeSource};

use super::atomic_writer::{FileProjection, Payload};
use super::{DEFAULT_MODE, VolumeError};
use crate::node::context::PodContext;

/// The files of a Secret (`MakePayload`); empty for a missing optional Secret.
pub fn payload(
    ctx: &PodContext,
    volume: &str,
    source: &SecretVolumeSource,
) -> Result<Payload, VolumeError> {
    let mode = source.default_mode.unwrap_or(DEFAULT_MODE);
    let optional = source.optional == Some(true);
    let name = source.secret_name.clone().unwrap_or_default();
    match ctx.objects.secret(ctx.namespace(), &name) {
        Some(secret) => make_payload(secret, source.items.as_deref(), mode, optional)
            .map_err(|m| VolumeError::new(volume, m)),
        None if optional => Ok(Payload::new()),
        None => Err(VolumeError::new(
            volume,
            format!("secret {name:?} not found"),
        )),
    }
}

/// The files of `secret` for `items` (all keys without), shared with projected volumes.
pub fn make_payload(
    secret: &Secret,
    items: Option<&[KeyToPath]>,
    default_mode: i32,
    optional: bool,
) -> Result<Payload, String> {
    let get = |key: &str| -> Option<Vec<u8>> {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| b.0.clone())
            .or_else(|| {
                secret
                    .string_data
                    .as_ref()
                    .and_then(|d| d.get(key))
                    .map(|s| s.as_bytes().to_vec())
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
                        return Err(format!("references non-existent secret key: {}", item.key));
                    }
                }
            }
        }
        _ => {
            let keys = secret.data.iter().flatten().map(|(k, _)| k);
            let keys = keys.chain(secret.string_data.iter().flatten().map(|(k, _)| k));
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
