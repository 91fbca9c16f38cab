//! Patches on objects held as [`serde_json::Value`]: JSON patch (RFC 6902), JSON merge patch
//! (RFC 7386), Kubernetes strategic merge patch, and server-side apply.
//!
//! All functions are pure: they take the current object and return the patched one.

mod apply;
mod apply_changes;
mod apply_fields;
mod apply_merge;
mod fieldset;
mod managed;
mod strategic;
mod strategic_list;

#[cfg(test)]
mod apply_changes_tests;
#[cfg(test)]
mod apply_tests;
#[cfg(test)]
mod json_tests;
#[cfg(test)]
mod managed_tests;
#[cfg(test)]
mod strategic_kinds_tests;
#[cfg(test)]
mod strategic_tests;
#[cfg(test)]
mod strategic_upstream_tests;

use serde_json::Value;

pub use apply::{ApplyConflict, ApplyError, apply, update_managed_fields};
pub use managed::Manager;
pub use strategic::{strategic_merge_patch, strategic_merge_patch_in};

/// A patch that cannot be applied, with the HTTP status Kubernetes answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PatchError {
    /// 400 (malformed patch) or 422 (a well-formed patch that cannot apply to the object).
    pub code: u16,
    /// The message for the Status.
    pub message: String,
}

impl PatchError {
    /// A malformed patch (400 BadRequest).
    pub fn bad_request(message: impl Into<String>) -> Self {
        PatchError {
            code: 400,
            message: message.into(),
        }
    }

    /// A patch that does not apply to the object (422 Unprocessable Entity).
    pub fn invalid(message: impl Into<String>) -> Self {
        PatchError {
            code: 422,
            message: message.into(),
        }
    }

    /// The Status `reason` matching [`PatchError::code`].
    pub fn reason(&self) -> &'static str {
        if self.code == 400 {
            "BadRequest"
        } else {
            "Invalid"
        }
    }
}

/// Applies a JSON patch (RFC 6902, `application/json-patch+json`) to `target`.
///
/// A patch that does not parse is a 400; one that fails to apply (missing path, failed `test`)
/// is a 422, as in Kubernetes.
pub fn json_patch(mut target: Value, patch: &[u8]) -> Result<Value, PatchError> {
    let operations: json_patch::Patch =
        serde_json::from_slice(patch).map_err(|e| PatchError::bad_request(e.to_string()))?;
    json_patch::patch(&mut target, &operations).map_err(|e| PatchError::invalid(e.to_string()))?;
    Ok(target)
}

/// Applies a JSON merge patch (RFC 7386, `application/merge-patch+json`) to `target`:
/// objects merge recursively, `null` deletes a key, anything else (lists included) replaces.
pub fn merge_patch(mut target: Value, patch: &Value) -> Value {
    json_patch::merge(&mut target, patch);
    target
}
