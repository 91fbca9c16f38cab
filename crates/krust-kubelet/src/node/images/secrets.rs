//! imagePullSecrets as the kubelet's credential keyring (`pkg/credentialprovider`) reads
//! them: `kubernetes.io/dockerconfigjson` Secrets (`.dockerconfigjson`: `{"auths": {…}}`) and
//! `kubernetes.io/dockercfg` ones (`.dockercfg`: the same map without `auths`), each entry
//! keyed by a registry (`localhost:5000`, `https://index.docker.io/v1/`, `ghcr.io/org`) with
//! `username`/`password` or `auth` (base64 of `user:password`).
//!
//! A key matches an image by its host (scheme and path dropped; `index.docker.io`,
//! `registry-1.docker.io` and `docker.io` are one registry); the first Secret that has
//! credentials for the host wins. Wildcard keys (`*.example.com`) are not matched.

use k8s_openapi::api::core::v1::Secret;
use krust_image::Credentials;
use krust_image::auth::{auths_credentials, registry_host};
use std::collections::BTreeMap;

/// `type` of a Secret holding a `~/.docker/config.json`.
pub const DOCKER_CONFIG_JSON: &str = "kubernetes.io/dockerconfigjson";
/// `type` of a Secret holding a legacy `~/.dockercfg`.
pub const DOCKERCFG: &str = "kubernetes.io/dockercfg";

/// The credentials `secrets` give for `registry` (a reference's registry, `docker.io` for
/// Docker Hub), if any. Secrets of other types, or that do not parse, are skipped.
pub fn credentials_for(registry: &str, secrets: &[Secret]) -> Option<Credentials> {
    let wanted = registry_host(registry);
    secrets
        .iter()
        .find_map(|secret| entries(secret)?.remove(&wanted))
}

/// A Secret's credentials by registry host.
fn entries(secret: &Secret) -> Option<BTreeMap<String, Credentials>> {
    let data = secret.data.as_ref()?;
    let json: serde_json::Value = match secret.type_.as_deref()? {
        DOCKER_CONFIG_JSON => {
            let config: serde_json::Value =
                serde_json::from_slice(&data.get(".dockerconfigjson")?.0).ok()?;
            config.get("auths")?.clone()
        }
        DOCKERCFG => serde_json::from_slice(&data.get(".dockercfg")?.0).ok()?,
        _ => return None,
    };
    Some(auths_credentials(&json))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use krust_image::reference::DOCKER_HUB;

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
