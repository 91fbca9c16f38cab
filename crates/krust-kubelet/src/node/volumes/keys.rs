//! The part of configMap's and secret's `MakePayload` they share: an object's keys as files,
//! all of them or the listed `items`, with `defaultMode` or each item's mode.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::KeyToPath;

use super::atomic_writer::{FileProjection, Payload};

/// The files for `items` (every key without them) of an object whose keys hold `values`;
/// a listed key that is missing is an error (`missing(key)`) unless the volume is optional.
pub fn select(
    values: BTreeMap<&str, Vec<u8>>,
    items: Option<&[KeyToPath]>,
    default_mode: i32,
    optional: bool,
    missing: impl Fn(&str) -> String,
) -> Result<Payload, String> {
    let mut out = Payload::new();
    let Some(items) = items.filter(|items| !items.is_empty()) else {
        for (key, data) in values {
            let mode = default_mode as u32;
            out.insert(key.to_string(), FileProjection { data, mode });
        }
        return Ok(out);
    };
    for item in items {
        match values.get(item.key.as_str()) {
            Some(data) => {
                let mode = item.mode.unwrap_or(default_mode) as u32;
                let data = data.clone();
                out.insert(item.path.clone(), FileProjection { data, mode });
            }
            None if optional => continue,
            None => return Err(missing(&item.key)),
        }
    }
    Ok(out)
}
