//! projected volumes (`pkg/volume/projected`): configMap, secret, downwardAPI and
//! serviceAccountToken sources merged into one directory.

use k8s_openapi::api::core::v1::ProjectedVolumeSource;

use super::atomic_writer::{FileProjection, Payload};
use super::{DEFAULT_MODE, VolumeError, config_map, downward_api, secret};
use crate::node::context::PodContext;

/// A token source's lifetime when it names none (the API's default).
pub const TOKEN_SECONDS: i64 = 3600;

/// The files of a projected volume.
pub fn payload(
    ctx: &PodContext,
    volume: &str,
    source: &ProjectedVolumeSource,
) -> Result<Payload, VolumeError> {
    let mode = source.default_mode.unwrap_or(DEFAULT_MODE);
    let err = |m: String| VolumeError::new(volume, m);
    let ns = ctx.namespace();
    let mut out = Payload::new();
    for s in source.sources.iter().flatten() {
        if let Some(cm) = &s.config_map {
            let optional = cm.optional == Some(true);
            match ctx.objects.config_map(ns, &cm.name) {
                Some(obj) => out.extend(
                    config_map::make_payload(obj, cm.items.as_deref(), mode, optional)
                        .map_err(err)?,
                ),
                None if optional => {}
                None => return Err(err(format!("configmap {:?} not found", cm.name))),
            }
        }
        if let Some(sec) = &s.secret {
            let optional = sec.optional == Some(true);
            match ctx.objects.secret(ns, &sec.name) {
                Some(obj) => out.extend(
                    secret::make_payload(obj, sec.items.as_deref(), mode, optional).map_err(err)?,
                ),
                None if optional => {}
                None => return Err(err(format!("secret {:?} not found", sec.name))),
            }
        }
        if let Some(d) = &s.downward_api {
            out.extend(
                downward_api::make_payload(ctx, d.items.as_deref().unwrap_or_default(), mode)
                    .map_err(err)?,
            );
        }
        if let Some(t) = &s.service_account_token {
            let audience = t.audience.as_deref().unwrap_or("");
            let seconds = t.expiration_seconds.unwrap_or(TOKEN_SECONDS);
            let token = match ctx.objects.token(audience, seconds) {
                Some(Ok(token)) => token.clone(),
                Some(Err(e)) => return Err(err(e.clone())),
                None => return Err(err("failed to fetch token: not requested".into())),
            };
            let data = token.into_bytes();
            out.insert(
                t.path.clone(),
                FileProjection {
                    data,
                    mode: mode as u32,
                },
            );
        }
    }
    Ok(out)
}
