//! A container's identity and privileges: the kubelet's effective security context
//! (`pkg/securitycontext`, `kuberuntime/security_context.go`, `verifyRunAsNonRoot`) resolved
//! as containerd's CRI plugin does (the image's `USER` looked up in the rootfs' `/etc/passwd`
//! and `/etc/group`, the default capability set, add/drop, privileged).

use std::path::PathBuf;

use k8s_openapi::api::core::v1::{Container, Pod, PodSecurityContext, SecurityContext};
use krust_runtime::User;

use super::error::ConfigError;

pub use krust_runtime::capabilities::{
    ALL_CAPABILITIES, DEFAULT_CAPABILITIES, current_capabilities as host_capabilities,
};

/// What the security context makes of a container, as [`krust_runtime::ContainerSpec`]
/// fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Security {
    /// The process's uid, gid and additional gids.
    pub user: User,
    /// Capabilities (bounding, effective, permitted).
    pub capabilities: Vec<String>,
    /// `privileged: true`.
    pub privileged: bool,
    /// `allowPrivilegeEscalation: false`.
    pub no_new_privileges: bool,
    /// `readOnlyRootFilesystem: true`.
    pub readonly_rootfs: bool,
    /// `seccompProfile.type: RuntimeDefault` (the container's, else the pod's).
    pub seccomp_runtime_default: bool,
}

/// Resolves the container's security settings. `image_user` is the image's `USER`;
/// `lower_dirs` (topmost first) are searched for `/etc/passwd` and `/etc/group`; `all_caps`
/// is what "ALL" and `privileged` grant ([`host_capabilities`]).
pub fn security(
    pod: &Pod,
    container: &Container,
    image_user: Option<&str>,
    lower_dirs: &[PathBuf],
    all_caps: &[String],
) -> Result<Security, ConfigError> {
    let pod_sc = pod.spec.as_ref().and_then(|s| s.security_context.as_ref());
    let sc = container.security_context.as_ref();
    verify_run_as_non_root(pod, container, image_user)?;
    let user = user(pod_sc, sc, image_user, lower_dirs)?;
    let privileged = sc.and_then(|s| s.privileged) == Some(true);
    let capabilities = if privileged {
        all_caps.to_vec()
    } else {
        capabilities(sc, all_caps)
    };
    let seccomp = sc
        .and_then(|s| s.seccomp_profile.as_ref())
        .or_else(|| pod_sc.and_then(|p| p.seccomp_profile.as_ref()));
    Ok(Security {
        user,
        capabilities,
        privileged,
        no_new_privileges: sc.and_then(|s| s.allow_privilege_escalation) == Some(false),
        readonly_rootfs: sc.and_then(|s| s.read_only_root_filesystem) == Some(true),
        seccomp_runtime_default: seccomp.is_some_and(|p| p.type_ == "RuntimeDefault"),
    })
}

/// `name_namespace(uid)`, the kubelet's `format.Pod`.
pub fn format_pod(pod: &Pod) -> String {
    let m = &pod.metadata;
    format!(
        "{}_{}({})",
        m.name.as_deref().unwrap_or_default(),
        m.namespace.as_deref().unwrap_or_default(),
        m.uid.as_deref().unwrap_or_default()
    )
}

/// The kubelet's `verifyRunAsNonRoot`: with `runAsNonRoot`, refuse uid 0 and image users
/// that are names (they cannot be checked before the container runs).
fn verify_run_as_non_root(
    pod: &Pod,
    container: &Container,
    image_user: Option<&str>,
) -> Result<(), ConfigError> {
    let pod_sc = pod.spec.as_ref().and_then(|s| s.security_context.as_ref());
    let sc = container.security_context.as_ref();
    let non_root = sc
        .and_then(|s| s.run_as_non_root)
        .or_else(|| pod_sc.and_then(|p| p.run_as_non_root));
    if non_root != Some(true) {
        return Ok(());
    }
    let who = format!(
        "(pod: {:?}, container: {})",
        format_pod(pod),
        container.name
    );
    if let Some(uid) = sc
        .and_then(|s| s.run_as_user)
        .or_else(|| pod_sc.and_then(|p| p.run_as_user))
    {
        if uid == 0 {
            return Err(ConfigError::NonRoot(format!(
                "container's runAsUser breaks non-root policy {who}"
            )));
        }
        return Ok(());
    }
    let user = image_user.unwrap_or_default();
    let user = user.split_once(':').map_or(user, |(u, _)| u);
    match user.parse::<u32>() {
        _ if user.is_empty() => Err(ConfigError::NonRoot(format!(
            "container has runAsNonRoot and image will run as root {who}"
        ))),
        Ok(0) => Err(ConfigError::NonRoot(format!(
            "container has runAsNonRoot and image will run as root {who}"
        ))),
        Ok(_) => Ok(()),
        Err(_) => Err(ConfigError::NonRoot(format!(
            "container has runAsNonRoot and image has non-numeric user ({user}), cannot verify user is non-root {who}"
        ))),
    }
}

/// An `/etc/passwd` entry.
struct Passwd {
    name: String,
    uid: u32,
    gid: u32,
}

/// An `/etc/group` entry.
struct Group {
    name: String,
    gid: u32,
    members: Vec<String>,
}

/// The file at `rel` (e.g. `etc/passwd`) in the topmost lower dir holding it; symlinks are
/// not followed (they would point into the host).
fn read_in_rootfs(lower_dirs: &[PathBuf], rel: &str) -> String {
    for dir in lower_dirs {
        let path = dir.join(rel);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => return std::fs::read_to_string(&path).unwrap_or_default(),
            Ok(_) => return String::new(),
            Err(_) => continue,
        }
    }
    String::new()
}

fn passwd(lower_dirs: &[PathBuf]) -> Vec<Passwd> {
    read_in_rootfs(lower_dirs, "etc/passwd")
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(Passwd {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
            })
        })
        .collect()
}

fn groups(lower_dirs: &[PathBuf]) -> Vec<Group> {
    read_in_rootfs(lower_dirs, "etc/group")
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(Group {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

fn user(
    pod_sc: Option<&PodSecurityContext>,
    sc: Option<&SecurityContext>,
    image_user: Option<&str>,
    lower_dirs: &[PathBuf],
) -> Result<User, ConfigError> {
    let users = passwd(lower_dirs);
    let groups = groups(lower_dirs);
    let run_as_user = sc
        .and_then(|s| s.run_as_user)
        .or_else(|| pod_sc.and_then(|p| p.run_as_user));
    let run_as_group = sc
        .and_then(|s| s.run_as_group)
        .or_else(|| pod_sc.and_then(|p| p.run_as_group));
    let by_uid = |uid: u32| users.iter().find(|p| p.uid == uid);
    let (uid, mut gid, name) = match run_as_user {
        Some(uid) => {
            let uid = id(uid)?;
            let entry = by_uid(uid);
            (
                uid,
                entry.map_or(0, |p| p.gid),
                entry.map(|p| p.name.clone()),
            )
        }
        None => {
            let spec = image_user.unwrap_or_default();
            let (u, g) = match spec.split_once(':') {
                Some((u, g)) => (u, Some(g)),
                None => (spec, None),
            };
            let (uid, gid, name) = if u.is_empty() {
                (0, 0, by_uid(0).map(|p| p.name.clone()))
            } else if let Ok(uid) = u.parse::<u32>() {
                let entry = by_uid(uid);
                (
                    uid,
                    entry.map_or(0, |p| p.gid),
                    entry.map(|p| p.name.clone()),
                )
            } else {
                let entry = users.iter().find(|p| p.name == u).ok_or_else(|| {
                    ConfigError::User(format!(
                        "unable to find user {u}: no matching entries in passwd file"
                    ))
                })?;
                (entry.uid, entry.gid, Some(entry.name.clone()))
            };
            let gid =
                match g {
                    None | Some("") => gid,
                    Some(g) => match g.parse::<u32>() {
                        Ok(gid) => gid,
                        Err(_) => groups
                            .iter()
                            .find(|e| e.name == g)
                            .ok_or_else(|| {
                                ConfigError::User(format!(
                                    "unable to find group {g}: no matching entries in group file"
                                ))
                            })?
                            .gid,
                    },
                };
            (uid, gid, name)
        }
    };
    if let Some(g) = run_as_group {
        gid = id(g)?;
    }
    let mut additional = vec![gid];
    if let Some(name) = &name {
        additional.extend(
            groups
                .iter()
                .filter(|g| g.members.contains(name))
                .map(|g| g.gid),
        );
    }
    if let Some(fs_group) = pod_sc.and_then(|p| p.fs_group) {
        additional.push(id(fs_group)?);
    }
    for g in pod_sc
        .and_then(|p| p.supplemental_groups.as_ref())
        .into_iter()
        .flatten()
    {
        additional.push(id(*g)?);
    }
    let mut seen = std::collections::BTreeSet::new();
    additional.retain(|g| seen.insert(*g));
    Ok(User {
        uid,
        gid,
        additional_gids: additional,
    })
}

fn id(v: i64) -> Result<u32, ConfigError> {
    u32::try_from(v).map_err(|_| ConfigError::User(format!("invalid user or group id {v}")))
}

/// containerd's capability arithmetic: the default set; `ALL` added gives every capability,
/// `ALL` dropped none; then single adds, then single drops (names with or without `CAP_`,
/// any case).
pub fn capabilities(sc: Option<&SecurityContext>, all_caps: &[String]) -> Vec<String> {
    let caps = sc.and_then(|s| s.capabilities.as_ref());
    let add: Vec<String> = caps.and_then(|c| c.add.clone()).unwrap_or_default();
    let drop: Vec<String> = caps.and_then(|c| c.drop.clone()).unwrap_or_default();
    let is_all = |c: &String| c.eq_ignore_ascii_case("ALL");
    let mut set: Vec<String> = DEFAULT_CAPABILITIES.iter().map(|s| s.to_string()).collect();
    if add.iter().any(is_all) {
        set = all_caps.to_vec();
    }
    if drop.iter().any(is_all) {
        set.clear();
    }
    let canonical = |c: &String| {
        let up = c.to_ascii_uppercase();
        if up.starts_with("CAP_") {
            up
        } else {
            format!("CAP_{up}")
        }
    };
    for c in add.iter().filter(|c| !is_all(c)) {
        let c = canonical(c);
        if !set.contains(&c) {
            set.push(c);
        }
    }
    for c in drop.iter().filter(|c| !is_all(c)) {
        let c = canonical(c);
        set.retain(|s| *s != c);
    }
    set
}

#[cfg(test)]
#[path = "security_tests.rs"]
mod tests;
