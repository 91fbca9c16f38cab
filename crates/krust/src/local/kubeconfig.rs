//! The user's kubeconfig: the profile's cluster, user and context merged in (and taken out
//! again), as minikube's `kubeconfig` package and `kubectl config set-*` do it. The file is
//! `$KUBECONFIG`'s first path, else `~/.kube/config`; it is parsed and rewritten as a whole,
//! so other entries and fields krust does not know stay; its mode stays (0600 when new).
//! Under `sudo` the home is the invoking user's, and what krust makes there is theirs (as
//! minikube's none driver does with `CHANGE_MINIKUBE_NONE_USER`): the user runs kubectl,
//! not root.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::{Value, json};

/// The kubeconfig kubectl reads first.
pub fn path() -> anyhow::Result<PathBuf> {
    if let Some(first) = std::env::var_os("KUBECONFIG")
        .and_then(|v| std::env::split_paths(&v).find(|p| !p.as_os_str().is_empty()))
    {
        return Ok(first);
    }
    let home = match invoker(|name| std::env::var(name).ok(), &passwd()) {
        Some(user) => user.home,
        None => PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?),
    };
    Ok(home.join(".kube").join("config"))
}

/// The user who ran `sudo krust …`: their name and home, and who owns what krust makes
/// there.
#[derive(Debug, PartialEq)]
struct Invoker {
    name: String,
    home: PathBuf,
    uid: u32,
    gid: u32,
}

/// The invoking user under `sudo` (root running with `SUDO_USER`, `SUDO_UID` and `SUDO_GID`
/// of another user), from the environment (`var`) and `/etc/passwd`'s text.
fn invoker(var: impl Fn(&str) -> Option<String>, passwd: &str) -> Option<Invoker> {
    if !rustix::process::geteuid().is_root() {
        return None;
    }
    let name = var("SUDO_USER").filter(|u| !u.is_empty() && u != "root")?;
    let uid = var("SUDO_UID")?.parse().ok().filter(|&uid| uid != 0)?;
    let gid = var("SUDO_GID")?.parse().ok()?;
    let home = passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 7 && fields[0] == name).then(|| PathBuf::from(fields[5]))
    })?;
    Some(Invoker {
        name,
        home,
        uid,
        gid,
    })
}

fn passwd() -> String {
    std::fs::read_to_string("/etc/passwd").unwrap_or_default()
}

/// The user who ran `sudo krust …`, whose kubeconfig [`path`] is (when `$KUBECONFIG` does
/// not name one).
pub fn sudo_user() -> Option<String> {
    invoker(|name| std::env::var(name).ok(), &passwd()).map(|user| user.name)
}

/// Gives `path`, and the directories above it up to `user`'s home, to `user`.
fn hand_over(path: &Path, user: &Invoker) -> std::io::Result<()> {
    for p in path
        .ancestors()
        .take_while(|p| p.starts_with(&user.home) && *p != user.home)
    {
        std::os::unix::fs::chown(p, Some(user.uid), Some(user.gid))?;
    }
    Ok(())
}

/// Merges the cluster, user and context of `server` (the kubeconfig the server wrote), all
/// named `name`, into the kubeconfig at `path`, and makes the context current.
pub fn merge(path: &Path, server: &Path, name: &str) -> anyhow::Result<()> {
    let ours = read(server)?;
    let entry = |list: &str| ours[list][0].clone();
    let mut cluster = entry("clusters");
    let mut user = entry("users");
    let mut context = entry("contexts");
    cluster["name"] = json!(name);
    user["name"] = json!(name);
    context["name"] = json!(name);
    context["context"]["cluster"] = json!(name);
    context["context"]["user"] = json!(name);
    let mut config = read_or_new(path)?;
    upsert(&mut config, "clusters", cluster);
    upsert(&mut config, "users", user);
    upsert(&mut config, "contexts", context);
    config["current-context"] = json!(name);
    write(path, &config)
}

/// Removes the cluster, user and context named `name` (and the current context if it is
/// that one), leaving everything else.
pub fn remove(path: &Path, name: &str) -> anyhow::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let mut config = read(path)?;
    for list in ["clusters", "users", "contexts"] {
        if let Some(entries) = config[list].as_array_mut() {
            entries.retain(|e| e["name"] != name);
        }
    }
    if config["current-context"] == name {
        config["current-context"] = json!("");
    }
    write(path, &config)
}

/// Whether the context `name` leads to the cluster `name` at `server` (minikube's
/// Configured); `false` when it is missing or points elsewhere (Misconfigured).
pub fn configured(path: &Path, name: &str, server: &str) -> bool {
    let Ok(config) = read(path) else {
        return false;
    };
    let find = |list: &str| {
        config[list]
            .as_array()
            .and_then(|l| l.iter().find(|e| e["name"] == name))
            .cloned()
    };
    let cluster_ok = find("clusters").is_some_and(|c| c["cluster"]["server"] == server);
    let context_ok = find("contexts")
        .is_some_and(|c| c["context"]["cluster"] == name && c["context"]["user"] == name);
    cluster_ok && context_ok && find("users").is_some()
}

/// The API server URL of the cluster `name` in the kubeconfig the server wrote.
pub fn server_url(server: &Path) -> anyhow::Result<String> {
    let config = read(server)?;
    config["clusters"][0]["cluster"]["server"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("{}: no server", server.display()))
}

/// The current context of the kubeconfig at `path` (empty if none).
pub fn current_context(path: &Path) -> String {
    read(path)
        .ok()
        .and_then(|c| c["current-context"].as_str().map(str::to_string))
        .unwrap_or_default()
}

fn read(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let config: Value = if text.trim().is_empty() {
        json!({})
    } else {
        serde_saphyr::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
    };
    anyhow::ensure!(config.is_object(), "{} is not a kubeconfig", path.display());
    Ok(config)
}

fn read_or_new(path: &Path) -> anyhow::Result<Value> {
    let mut config = if path.exists() {
        read(path)?
    } else {
        json!({})
    };
    for (key, default) in [("apiVersion", json!("v1")), ("kind", json!("Config"))] {
        if config.get(key).is_none_or(Value::is_null) {
            config[key] = default;
        }
    }
    Ok(config)
}

/// Replaces the entry of the same name in the list `list`, or appends it.
fn upsert(config: &mut Value, list: &str, entry: Value) {
    if !config[list].is_array() {
        config[list] = json!([]);
    }
    let entries = config[list].as_array_mut().expect("an array");
    match entries.iter_mut().find(|e| e["name"] == entry["name"]) {
        Some(old) => *old = entry,
        None => entries.push(entry),
    }
}

/// Rewrites the file in place (its mode, owner and any symlink stay; a new file is 0600).
fn write(path: &Path, config: &Value) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(dir)?;
    }
    // Plain scalars, as kubectl writes them (no folded blocks for the long base64 data).
    let mut options = serde_saphyr::SerializerOptions::default();
    options.prefer_block_scalars = false;
    let text = serde_saphyr::to_string_with_options(config, options)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    if let Some(user) = invoker(|name| std::env::var(name).ok(), &passwd()) {
        hand_over(path, &user).with_context(|| format!("giving {} to its user", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const SERVER: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: krust\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority-data: Q0E=\nusers:\n- name: krust-admin\n  user:\n    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ\ncontexts:\n- name: krust\n  context:\n    cluster: krust\n    user: krust-admin\n    namespace: default\ncurrent-context: krust\n";

    const OTHER: &str = "apiVersion: v1\nkind: Config\npreferences: {}\nclusters:\n- name: prod\n  cluster:\n    server: https://prod.example:6443\n    proxy-url: http://proxy:3128\nusers:\n- name: prod\n  user:\n    token: abc\ncontexts:\n- name: prod\n  context:\n    cluster: prod\n    user: prod\ncurrent-context: prod\nextensions-of-someone: {kept: true}\n";

    fn files(other: Option<&str>) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let server = dir.path().join("server");
        std::fs::write(&server, SERVER).unwrap();
        let user = dir.path().join("kube").join("config");
        if let Some(text) = other {
            std::fs::create_dir_all(user.parent().unwrap()).unwrap();
            std::fs::write(&user, text).unwrap();
            std::fs::set_permissions(&user, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        (dir, server, user)
    }

    #[test]
    fn under_sudo_the_kubeconfig_is_the_invoking_users_and_made_theirs() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nada:x:1234:1235:Ada:/home/ada:/bin/sh\n";
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let sudo = env(&[
            ("SUDO_USER", "ada"),
            ("SUDO_UID", "1234"),
            ("SUDO_GID", "1235"),
        ]);
        assert_eq!(
            invoker(sudo, passwd),
            Some(Invoker {
                name: "ada".into(),
                home: "/home/ada".into(),
                uid: 1234,
                gid: 1235
            })
        );
        assert_eq!(invoker(env(&[]), passwd), None, "not under sudo");
        let root = env(&[("SUDO_USER", "root"), ("SUDO_UID", "0"), ("SUDO_GID", "0")]);
        assert_eq!(invoker(root, passwd), None, "sudo by root");
        let unknown = env(&[("SUDO_USER", "bob"), ("SUDO_UID", "7"), ("SUDO_GID", "7")]);
        assert_eq!(invoker(unknown, passwd), None, "no such user");

        // What krust makes under the user's home becomes theirs; the home itself stays.
        let home = tempfile::tempdir().unwrap();
        let config = home.path().join(".kube").join("config");
        std::fs::create_dir_all(config.parent().unwrap()).unwrap();
        std::fs::write(&config, "").unwrap();
        let ada = Invoker {
            name: "ada".into(),
            home: home.path().into(),
            uid: 1234,
            gid: 1235,
        };
        hand_over(&config, &ada).unwrap();
        use std::os::unix::fs::MetadataExt;
        let owner = |p: &Path| {
            let m = std::fs::metadata(p).unwrap();
            (m.uid(), m.gid())
        };
        assert_eq!(owner(&config), (1234, 1235));
        assert_eq!(owner(config.parent().unwrap()), (1234, 1235));
        assert_eq!(owner(home.path()), (0, 0));
    }

    #[test]
    fn merging_adds_the_profile_and_keeps_every_other_entry_and_field() {
        let (_dir, server, user) = files(Some(OTHER));
        merge(&user, &server, "dev").unwrap();
        let config = read(&user).unwrap();
        assert_eq!(config["current-context"], "dev");
        assert_eq!(
            config["clusters"][0]["cluster"]["proxy-url"],
            "http://proxy:3128"
        );
        assert_eq!(config["extensions-of-someone"]["kept"], true);
        assert_eq!(config["contexts"][1]["context"]["user"], "dev");
        assert_eq!(config["users"][1]["user"]["client-key-data"], "S0VZ");
        assert!(configured(&user, "dev", "https://127.0.0.1:6443"));
        assert!(!configured(&user, "dev", "https://127.0.0.1:6444"));
        let mode = std::fs::metadata(&user).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "an existing file keeps its mode");
    }

    #[test]
    fn merging_twice_replaces_the_profiles_entries() {
        let (_dir, server, user) = files(Some(OTHER));
        merge(&user, &server, "dev").unwrap();
        merge(&user, &server, "dev").unwrap();
        let config = read(&user).unwrap();
        for list in ["clusters", "users", "contexts"] {
            assert_eq!(config[list].as_array().unwrap().len(), 2, "{list}");
        }
    }

    #[test]
    fn a_new_kubeconfig_is_made_readable_by_its_owner_only() {
        let (_dir, server, user) = files(None);
        merge(&user, &server, "krust").unwrap();
        let mode = std::fs::metadata(&user).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let config = read(&user).unwrap();
        assert_eq!(
            (config["apiVersion"].as_str(), config["kind"].as_str()),
            (Some("v1"), Some("Config"))
        );
        assert_eq!(current_context(&user), "krust");
    }

    #[test]
    fn removing_the_profile_leaves_the_other_contexts() {
        let (_dir, server, user) = files(Some(OTHER));
        merge(&user, &server, "dev").unwrap();
        remove(&user, "dev").unwrap();
        let config = read(&user).unwrap();
        for list in ["clusters", "users", "contexts"] {
            let names: Vec<&str> = config[list]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["name"].as_str().unwrap())
                .collect();
            assert_eq!(names, ["prod"], "{list}");
        }
        assert_eq!(
            config["current-context"], "",
            "the removed context is no longer current"
        );
        assert_eq!(config["extensions-of-someone"]["kept"], true);
    }
}
