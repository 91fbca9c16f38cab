//! Create.

use super::{Registry, WriteOptions, Written, encode, hooks, store_error};
use krust_api::resources::{Resource, find};
use krust_api::status::ApiError;
use krust_api::{defaults, meta, validation};
use serde_json::{Value, json};

const NAME_CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `generateName` plus five random characters, as Kubernetes does.
pub(super) fn generated(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4();
    let suffix: String = id.as_bytes()[..5]
        .iter()
        .map(|b| NAME_CHARS[*b as usize % NAME_CHARS.len()] as char)
        .collect();
    let mut cut = prefix.len().min(63 - 5);
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}", &prefix[..cut])
}

/// Whether a stored object has a `deletionTimestamp`; only that is decoded.
fn terminating(stored: &[u8]) -> Result<bool, ApiError> {
    #[derive(serde::Deserialize)]
    struct Object {
        metadata: Option<Metadata>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Metadata {
        deletion_timestamp: Option<serde::de::IgnoredAny>,
    }
    let obj: Object = serde_json::from_slice(stored).map_err(ApiError::internal)?;
    Ok(obj.metadata.is_some_and(|m| m.deletion_timestamp.is_some()))
}

impl Registry {
    /// Checks that `namespace` exists and is not terminating.
    pub async fn check_namespace(
        &self,
        resource: &Resource,
        namespace: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        let namespaces = find("", "v1", "namespaces").expect("namespaces are served");
        let ns = self.get_stored(namespaces, None, namespace).await?;
        if terminating(&ns.value)? {
            let msg = format!(
                "{} {name:?} is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
                resource.qualified()
            );
            let mut e = ApiError::new(403, "Forbidden", msg);
            e.causes = vec![krust_api::status::Cause {
                reason: "NamespaceTerminating",
                message: format!("namespace {namespace} is being terminated"),
                field: "metadata.namespace".into(),
            }];
            return Err(e);
        }
        Ok(())
    }

    /// Creates an object of `resource` in `namespace`.
    pub async fn create(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request must be an object",
            ));
        }
        obj["apiVersion"] = json!(resource.storage_api_version());
        obj["kind"] = json!(resource.kind);
        let m = meta::metadata_mut(&mut obj);
        if resource.namespaced {
            let ns = namespace.unwrap_or("default");
            match m.get("namespace").and_then(Value::as_str) {
                Some(given) if !given.is_empty() && given != ns => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                _ => m.insert("namespace".into(), json!(ns)),
            };
        } else {
            m.remove("namespace");
        }
        for f in [
            "resourceVersion",
            "uid",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            m.remove(f);
        }
        if m.get("name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
            && let Some(prefix) = m
                .get("generateName")
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty())
        {
            let name = generated(prefix);
            m.insert("name".into(), json!(name));
        }
        m.insert("uid".into(), json!(meta::new_uid()));
        m.insert("creationTimestamp".into(), json!(meta::now()));
        hooks::prepare_create(resource, &mut obj);
        if resource.builtin_kind() == "CustomResourceDefinition" {
            obj["status"] = self.definition_status(&obj);
        }
        defaults::on_create(resource.builtin_kind(), &mut obj);
        validation::validate(resource, &obj, None)?;
        let name = meta::name(&obj).to_string();
        if let (true, Some(ns)) = (resource.namespaced, meta::namespace(&obj).map(String::from)) {
            self.check_namespace(resource, &ns, &name).await?;
        }
        if resource.builtin_kind() == "Pod" && self.service_account_admission {
            self.admit_service_account(&mut obj).await?;
        }
        let mut obj = super::track_fields(resource, None, obj, super::Part::Main, opts)?;
        if opts.dry_run {
            return Ok(Written {
                object: obj,
                stored: None,
            });
        }
        let owner = format!("{}/{name}", meta::namespace(&obj).unwrap_or(""));
        let key = resource.key(meta::namespace(&obj), &name);
        let mut claims = super::allocate::Claims::default();
        if resource.builtin_kind() == "Service" {
            // Refuse a duplicate before it can hold addresses.
            if self
                .store
                .get(&key)
                .await
                .map_err(|e| store_error(resource, &name, e))?
                .is_some()
            {
                return Err(ApiError::already_exists(
                    resource.group,
                    resource.plural,
                    &name,
                ));
            }
            claims = self.allocate_service(&mut obj, None, &owner).await?;
        }
        match self.store.create(&key, encode(&obj)).await {
            Ok(kv) => Ok(Written::stored(obj, kv)),
            Err(e) => {
                self.unclaim(claims).await;
                Err(store_error(resource, &name, e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_have_five_suffix_chars() {
        let n = generated("web-");
        assert_eq!(n.len(), 9);
        assert!(n.starts_with("web-"));
        let long = format!("{}é-", "a".repeat(57));
        assert!(generated(&long).len() <= 63, "cuts at a character boundary");
    }
}
