//! Registry authentication as the distribution spec's token auth (`docs/spec/auth/token.md`)
//! and docker's client do it: answer a `WWW-Authenticate` challenge with HTTP basic
//! credentials, or with a Bearer token fetched from the challenge's realm (anonymously, or
//! with the credentials).

use std::collections::BTreeMap;

use base64::Engine;
use serde::Deserialize;

use crate::error::{Error, Result};

/// A user name and password (or token) for one registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or access token.
    pub password: String,
}

impl Credentials {
    /// The `Authorization` value of HTTP basic auth.
    pub fn basic(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm=…`.
    Basic,
    /// `Bearer realm=…,service=…,scope=…`.
    Bearer {
        /// The token server's URL.
        realm: String,
        /// The `service` parameter to pass on.
        service: Option<String>,
        /// The `scope` parameter to pass on.
        scope: Option<String>,
    },
}

impl Challenge {
    /// Parses a challenge; quoted values may hold commas (`scope="repository:a:pull,push"`).
    pub fn parse(header: &str) -> Option<Self> {
        let (scheme, rest) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
        let params = params(rest);
        let get = |k: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
        };
        if scheme.eq_ignore_ascii_case("basic") {
            Some(Self::Basic)
        } else if scheme.eq_ignore_ascii_case("bearer") {
            Some(Self::Bearer {
                realm: get("realm")?,
                service: get("service"),
                scope: get("scope"),
            })
        } else {
            None
        }
    }

    /// The `Authorization` value answering this challenge.
    pub async fn answer(
        &self,
        client: &reqwest::Client,
        creds: Option<&Credentials>,
    ) -> Result<String> {
        let Self::Bearer {
            realm,
            service,
            scope,
        } = self
        else {
            let creds =
                creds.ok_or_else(|| Error::Registry("basic auth asked, no credentials".into()))?;
            return Ok(creds.basic());
        };
        let query: Vec<(&str, &String)> = [("service", service), ("scope", scope)]
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_ref()?)))
            .collect();
        let mut req = client.get(realm).query(&query);
        if let Some(c) = creds {
            req = req.header(reqwest::header::AUTHORIZATION, c.basic());
        }
        let resp = req.send().await?;
        if !resp.status().is_success() {
            return Err(Error::Registry(format!(
                "token from {realm}: {}",
                resp.status()
            )));
        }
        let body: TokenResponse = serde_json::from_slice(&resp.bytes().await?)?;
        let token = body
            .token
            .or(body.access_token)
            .ok_or_else(|| Error::Registry("no token".into()))?;
        Ok(format!("Bearer {token}"))
    }
}

/// The credentials of a docker client config (`~/.docker/config.json`, as `docker login`
/// writes it: `{"auths": {"localhost:5000": {"auth": base64("user:password")}}}`, or
/// `username`/`password`), by registry host ([`registry_host`]). Credential helpers are not
/// run.
pub fn docker_config_credentials(json: &[u8]) -> BTreeMap<String, Credentials> {
    #[derive(Deserialize, Default)]
    struct Config {
        #[serde(default)]
        auths: serde_json::Value,
    }
    let config: Config = serde_json::from_slice(json).unwrap_or_default();
    auths_credentials(&config.auths)
}

/// The credentials of a docker `auths` map (`{"<registry>": {"auth": …}}`, also a legacy
/// `~/.dockercfg` whole) by registry host; where two keys name one host, the first (in key
/// order) with usable credentials wins. Entries that do not parse are skipped.
pub fn auths_credentials(auths: &serde_json::Value) -> BTreeMap<String, Credentials> {
    #[derive(Deserialize, Default)]
    struct Entry {
        username: Option<String>,
        password: Option<String>,
        auth: Option<String>,
    }
    let credentials = |e: Entry| match (e.username, e.password) {
        (Some(username), Some(password)) if !username.is_empty() => {
            Some(Credentials { username, password })
        }
        _ => {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(e.auth?.trim())
                .ok()?;
            let (u, p) = std::str::from_utf8(&raw).ok()?.split_once(':')?;
            Some(Credentials {
                username: u.to_owned(),
                password: p.to_owned(),
            })
        }
    };
    let mut out = BTreeMap::new();
    for (key, entry) in auths.as_object().into_iter().flatten() {
        let entry = serde_json::from_value(entry.clone()).ok();
        if let Some(creds) = entry.and_then(credentials) {
            out.entry(registry_host(key)).or_insert(creds);
        }
    }
    out
}

/// The host of a docker config key or a registry: no scheme, no path, lower case, Docker
/// Hub's aliases (`index.docker.io`, `registry-1.docker.io`, `registry.hub.docker.com`) as
/// `docker.io`.
pub fn registry_host(key: &str) -> String {
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
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            crate::reference::DOCKER_HUB.to_owned()
        }
        _ => host,
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    token: Option<String>,
    access_token: Option<String>,
}

fn params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ',' || c.is_whitespace()).is_some() {}
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
        if key.is_empty() || chars.next().is_none() {
            return out;
        }
        let value: String = if chars.next_if_eq(&'"').is_some() {
            let v = std::iter::from_fn(|| chars.next_if(|c| *c != '"')).collect();
            chars.next();
            v
        } else {
            std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect()
        };
        out.push((key.trim().to_owned(), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_challenge_keeps_commas_inside_quoted_values() {
        let h = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push""#;
        let want = Challenge::Bearer {
            realm: "https://auth.docker.io/token".into(),
            service: Some("registry.docker.io".into()),
            scope: Some("repository:a/b:pull,push".into()),
        };
        assert_eq!(Challenge::parse(h), Some(want));
        assert_eq!(
            Challenge::parse(r#"Basic realm="r""#),
            Some(Challenge::Basic)
        );
        assert_eq!(Challenge::parse("Negotiate"), None);
    }

    #[test]
    fn a_docker_config_gives_credentials_by_registry_host() {
        let json = br#"{"auths": {"http://localhost:5000/v2/": {"auth": "dTpw"},
            "https://index.docker.io/v1/": {"username": "a", "password": "b"}}}"#;
        let creds = docker_config_credentials(json);
        assert_eq!(creds["localhost:5000"].basic(), "Basic dTpw");
        assert_eq!(creds["docker.io"].username, "a");
        assert!(docker_config_credentials(b"not json").is_empty());
    }

    #[test]
    fn basic_credentials_are_base64_of_user_colon_password() {
        let c = Credentials {
            username: "u".into(),
            password: "p".into(),
        };
        assert_eq!(c.basic(), "Basic dTpw");
    }
}
