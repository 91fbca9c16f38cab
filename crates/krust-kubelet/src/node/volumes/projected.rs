//! projected volumes (`pkg/volume/projected`): configMap, secret and downwardAPI sources
//! merged into one directory. Service account tokens are not projected yet.

use k8s_openapi::api::core::v1::ProjectedVolumeSource;

use super::atomic_writer::Payload;
use super::{DEFAULT_MODE, VolumeError, config_map, downward_api, secret};
use crate::node::context::PodContext;

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
        // TODO(issue 11): serviceAccountToken sources need TokenRequest from the API server;
        // the kube-api-access volume then lacks its token (ca.crt and namespace are written).
    }
    Ok(out)
}
