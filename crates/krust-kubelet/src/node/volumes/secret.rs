//! secret volumes (`pkg/volume/secret`): a Secret's `data` as files, all keys or the listed
//! `items`, with `defaultMode` or each item's mode.

use k8s_openapi::api::core::v1::{KeyToPath, Secret, SecretVolumeSource};

use super::atomic_writer::Payload;
use super::{DEFAULT_MODE, VolumeError, keys};
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
    let text = secret.string_data.iter().flatten();
    let data = secret.data.iter().flatten();
    let values = text
        .map(|(k, v)| (k.as_str(), v.as_bytes().to_vec()))
        .chain(data.map(|(k, v)| (k.as_str(), v.0.clone())))
        .collect();
    keys::select(values, items, default_mode, optional, |key| {
        format!("references non-existent secret key: {key}")
    })
}
