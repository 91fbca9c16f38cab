//! A container's environment, as the kubelet's `makeEnvironmentVariables` resolves it
//! (`kubelet_pods.go`) and containerd then merges it over the image's `Env`.
//!
//! Order: the image's env, then `envFrom` sources in order, then `env` entries in order; a
//! name defined again keeps its first position and takes the later value (containerd's
//! replace-or-append). `$(VAR)` in `env[].value` sees only what the kubelet defined before
//! it (envFrom and earlier entries, and the service links), never the image's env. The
//! service links ([`super::service_env`]) come first; envFrom and env override them.

use k8s_openapi::api::core::v1::{Container, EnvFromSource, EnvVar, EnvVarSource};

use super::context::PodContext;
use super::error::ConfigError;
use super::expansion::{expand, lookup_in};
use super::fieldpath;
use super::service_env::service_env;

/// The environment the kubelet defines for a container (without the image's).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolvedEnv {
    /// `(name, value)` pairs, each name once.
    pub vars: Vec<(String, String)>,
    /// Warnings the kubelet posts as Events of reason `InvalidEnvironmentVariableNames`:
    /// keys of an `envFrom` source that are no valid variable names and were skipped.
    pub warnings: Vec<String>,
}

/// The Event reason of [`ResolvedEnv::warnings`].
pub const INVALID_ENV_NAMES: &str = "InvalidEnvironmentVariableNames";

/// Resolves `container.envFrom` and `container.env` against the pod and fetched objects.
pub fn container_env(ctx: &PodContext, container: &Container) -> Result<ResolvedEnv, ConfigError> {
    let mut out = ResolvedEnv {
        vars: service_env(ctx.pod, ctx.objects.services()),
        ..ResolvedEnv::default()
    };
    for source in container.env_from.iter().flatten() {
        env_from(ctx, source, &mut out)?;
    }
    for var in container.env.iter().flatten() {
        if let Some(value) = env_var(ctx, container, var, &out.vars)? {
            set(&mut out.vars, var.name.clone(), value);
        }
    }
    Ok(out)
}

/// The final `KEY=value` list: the image's `Env` with the kubelet's vars replacing or
/// appended, as containerd merges them.
pub fn merge_with_image(image_env: &[String], vars: &[(String, String)]) -> Vec<String> {
    let mut all: Vec<(String, String)> = Vec::new();
    for kv in image_env {
        let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
        set(&mut all, k.to_string(), v.to_string());
    }
    for (k, v) in vars {
        set(&mut all, k.clone(), v.clone());
    }
    all.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
}

fn set(vars: &mut Vec<(String, String)>, name: String, value: String) {
    match vars.iter_mut().find(|(k, _)| *k == name) {
        Some(slot) => slot.1 = value,
        None => vars.push((name, value)),
    }
}

/// Whether `name` may name a variable: printable ASCII without `=` (the relaxed rule of
/// Kubernetes 1.32+, `RelaxedEnvironmentVariableValidation`).
pub fn is_env_var_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'=')
}

fn env_from(
    ctx: &PodContext,
    source: &EnvFromSource,
    out: &mut ResolvedEnv,
) -> Result<(), ConfigError> {
    let ns = ctx.namespace();
    let prefix = source.prefix.as_deref().unwrap_or_default();
    let (entries, kind, name): (Vec<(String, String)>, &str, String) =
        if let Some(cm_ref) = &source.config_map_ref {
            let name = cm_ref.name.clone();
            match ctx.objects.config_map(ns, &name) {
                Some(cm) => {
                    // `data` only: binaryData keys are not variables.
                    let entries: Vec<(String, String)> = cm
                        .data
                        .iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    (entries, "configMap", name)
                }
                None if cm_ref.optional == Some(true) => return Ok(()),
                None => return Err(ConfigError::ConfigMapNotFound(name)),
            }
        } else if let Some(s_ref) = &source.secret_ref {
            let name = s_ref.name.clone();
            match ctx.objects.secret(ns, &name) {
                Some(secret) => (secret_entries(secret), "secret", name),
                None if s_ref.optional == Some(true) => return Ok(()),
                None => return Err(ConfigError::SecretNotFound(name)),
            }
        } else {
            return Ok(());
        };
    let mut invalid = Vec::new();
    for (key, value) in entries {
        let full = format!("{prefix}{key}");
        if is_env_var_name(&full) {
            set(&mut out.vars, full, value);
        } else {
            invalid.push(full);
        }
    }
    if !invalid.is_empty() {
        invalid.sort();
        out.warnings.push(format!(
            "Keys [{}] from the EnvFrom {kind} {ns}/{name} were skipped since they are considered invalid environment variable names.",
            invalid.join(", ")
        ));
    }
    Ok(())
}

/// A Secret's `data` (and `stringData`, should a writer have left it) as strings.
fn secret_entries(secret: &k8s_openapi::api::core::v1::Secret) -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
        .collect();
    for (k, v) in secret.string_data.iter().flatten() {
        if !entries.iter().any(|(e, _)| e == k) {
            entries.push((k.clone(), v.clone()));
        }
    }
    entries
}

/// One `env` entry's value; `None` when an optional source is missing.
fn env_var(
    ctx: &PodContext,
    container: &Container,
    var: &EnvVar,
    defined: &[(String, String)],
) -> Result<Option<String>, ConfigError> {
    let Some(from) = &var.value_from else {
        let value = var.value.as_deref().unwrap_or_default();
        return Ok(Some(expand(value, lookup_in(defined))));
    };
    value_from(ctx, container, from)
}

fn value_from(
    ctx: &PodContext,
    container: &Container,
    from: &EnvVarSource,
) -> Result<Option<String>, ConfigError> {
    let ns = ctx.namespace();
    if let Some(field) = &from.field_ref {
        return fieldpath::pod_field(ctx, field)
            .map(Some)
            .map_err(ConfigError::Field);
    }
    if let Some(field) = &from.resource_field_ref {
        return fieldpath::container_resource(container, field, ctx.node_allocatable)
            .map(Some)
            .map_err(ConfigError::Field);
    }
    if let Some(key_ref) = &from.config_map_key_ref {
        let optional = key_ref.optional == Some(true);
        let name = &key_ref.name;
        let Some(cm) = ctx.objects.config_map(ns, name) else {
            return if optional {
                Ok(None)
            } else {
                Err(ConfigError::ConfigMapNotFound(name.clone()))
            };
        };
        let value = cm.data.as_ref().and_then(|d| d.get(&key_ref.key).cloned());
        return match value {
            Some(v) => Ok(Some(v)),
            None if optional => Ok(None),
            None => Err(ConfigError::ConfigMapKeyNotFound {
                key: key_ref.key.clone(),
                namespace: ns.to_string(),
                name: name.clone(),
            }),
        };
    }
    if let Some(key_ref) = &from.secret_key_ref {
        let optional = key_ref.optional == Some(true);
        let name = &key_ref.name;
        let Some(secret) = ctx.objects.secret(ns, name) else {
            return if optional {
                Ok(None)
            } else {
                Err(ConfigError::SecretNotFound(name.clone()))
            };
        };
        let value = secret_entries(secret)
            .into_iter()
            .find(|(k, _)| *k == key_ref.key)
            .map(|(_, v)| v);
        return match value {
            Some(v) => Ok(Some(v)),
            None if optional => Ok(None),
            None => Err(ConfigError::SecretKeyNotFound {
                key: key_ref.key.clone(),
                namespace: ns.to_string(),
                name: name.clone(),
            }),
        };
    }
    Ok(Some(String::new()))
}

#[cfg(test)]
#[path = "env_tests.rs"]
mod tests;
