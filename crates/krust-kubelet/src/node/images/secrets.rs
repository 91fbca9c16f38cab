//! imagePullSecrets as the kubelet's credential keyring (`pkg/credentialprovider`) reads
//! them: `kubernetes.io/dockerconfigjson` Secrets (`.dockerconfigjson`: `{"auths": {…}}`) and
//! `kubernetes.io/dockercfg` ones (`.dockercfg`: the same map without `auths`), each entry
//! keyed by a registry (`localhost:5000`, `https://index.docker.io/v1/`, `ghcr.io/org`) with
//! `username`/`password` or `auth` (base64 of `user:password`).
//!
//! A key matches an image by its host (scheme and path dropped; `index.docker.io`,
//! `registry-1.docker.io` and `docker.io` are one registry); the first Secret that has
//! credentials for the host wins. Wildcard keys (`*.example.com`) are not matched.

use base64::Engine;
use k8s_openapi::api::core::v1::Secret;
use krust_image::Credentials;
use krust_image::reference::DOCKER_HUB;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `type` of a Secret holding a `~/.docker/config.json`.
pub const DOCKER_CONFIG_JSON: &str = "kubernetes.io/dockerconfigjson";
/// `type` of a Secret holding a legacy `~/.dockercfg`.
pub const DOCKERCFG: &str = "kubernetes.io/dockercfg";

#[derive(Deserialize)]
struct ConfigJson {
    #[serde(default)]
    auths: BTreeMap<String, Entry>,
}

#[derive(Deserialize, Default)]
struct Entry {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    auth: Option<String>,
}

/// The credentials `secrets` give for `registry` (a reference's registry, `docker.io` for
/// Docker Hub), if any. Secrets of other types, or that do not parse, are skipped.
pub fn credentials_for(registry: &str, secrets: &[Secret]) -> Option<Credentials> {
    let wanted = registry_host(registry);
    secrets.iter().find_map(|secret| {
        entries(secret)?
            .into_iter()
            .filter(|(key, _)| registry_host(key) == wanted)
            .find_map(|(_, entry)| credentials(entry))
    })
}

fn entries(secret: &Secret) -> Option<BTreeMap<String, Entry>> {
    let data = secret.data.as_ref()?;
    match secret.type_.as_deref()? {
        DOCKER_CONFIG_JSON => {
            let bytes = &data.get(".dockerconfigjson")?.0;
            Some(serde_json::from_slice::<ConfigJson>(bytes).ok()?.auths)
        }
        DOCKERCFG => serde_json::from_slice(&data.get(".dockercfg")?.0).ok(),
        _ => None,
    }
}

fn credentials(entry: Entry) -> Option<Credentials> {
    if let (Some(username), Some(password)) = (&entry.username, &entry.password)
        && !username.is_empty()
    {
        return Some(Credentials {
            username: username.clone(),
            password: password.clone(),
        });
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(entry.auth?.trim())
        .ok()?;
    let (username, password) = std::str::from_utf8(&raw).ok()?.split_once(':')?;
    Some(Credentials {
        username: username.to_owned(),
        password: password.to_owned(),
    })
}

/// The host of a keyring key or a registry: no scheme, no path, lower case, Docker Hub's
/// aliases as `docker.io`.
fn registry_host(key: &str) -> String {
    let key = key.trim();
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = rest
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => DOCKER_HUB.into(),
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn secret(type_: &str, key: &str, json: &str) -> Secret {
        Secret {
            type_: Some(type_.into()),
            data: Some([(key.to_owned(), ByteString(json.as_bytes().to_vec()))].into()),
            ..Default::default()
        }
    }

    fn creds(u: &str, p: &str) -> Option<Credentials> {
        Some(Credentials {
            username: u.into(),
            password: p.into(),
        })
    }

    #[test]
    fn a_dockerconfigjson_secret_gives_the_credentials_of_its_registry_host() {
        // "dTpw" is base64("u:p").
        let s = secret(
            DOCKER_CONFIG_JSON,
            ".dockerconfigjson",
            r#"{"auths":{"http://localhost:5000/v2/":{"auth":"dTpw"},"ghcr.io":{"username":"a","password":"b"}}}"#,
        );
        let secrets = [s];
        assert_eq!(credentials_for("localhost:5000", &secrets), creds("u", "p"));
        assert_eq!(credentials_for("ghcr.io", &secrets), creds("a", "b"));
        assert_eq!(credentials_for("quay.io", &secrets), None);
    }

    #[test]
    fn docker_hub_is_found_under_any_of_its_names_in_a_dockercfg_secret() {
        for key in [
            "https://index.docker.io/v1/",
            "index.docker.io",
            "docker.io",
        ] {
            let json = format!(r#"{{"{key}":{{"auth":"dTpw"}}}}"#);
            let secrets = [secret(DOCKERCFG, ".dockercfg", &json)];
            assert_eq!(
                credentials_for(DOCKER_HUB, &secrets),
                creds("u", "p"),
                "{key}"
            );
        }
    }

    #[test]
    fn secrets_of_other_types_or_broken_ones_are_skipped_for_the_next() {
        let secrets = [
            secret(
                "Opaque",
                ".dockerconfigjson",
                r#"{"auths":{"r.io":{"auth":"dTpw"}}}"#,
            ),
            secret(DOCKER_CONFIG_JSON, ".dockerconfigjson", "{not json"),
            secret(
                DOCKER_CONFIG_JSON,
                ".dockerconfigjson",
                r#"{"auths":{"r.io":{"auth":"%%"}}}"#,
            ),
            secret(
                DOCKER_CONFIG_JSON,
                ".dockerconfigjson",
                r#"{"auths":{"r.io":{"username":"x","password":"y"}}}"#,
            ),
        ];
        assert_eq!(credentials_for("r.io", &secrets), creds("x", "y"));
    }
}
