//! Bootstrap tokens (Kubernetes' `bootstrap.kubernetes.io/token` Secrets and the API
//! server's bootstrap token authenticator, `plugin/pkg/auth/authenticator/token/bootstrap`):
//! a bearer token `<id>.<secret>` whose Secret `kube-system/bootstrap-token-<id>` allows
//! authentication authenticates as `system:bootstrap:<id>` in `system:bootstrappers`.
//!
//! The join token a new node is given carries the cluster CA's hash as well, in k3s' secure
//! form: `K10<sha256 of the CA bundle served at /cacerts, hex>::<id>.<secret>`. The agent
//! fetches `/cacerts` (an open path) without verifying, checks its hash against the token and
//! trusts only that CA from then on, so a join token is all a node needs.

use crate::auth::Identity;
use crate::registry::{Registry, WriteOptions};
use base64::Engine;
use krust_api::resources::find;
use serde_json::{Value, json};
use std::path::Path;

/// The Secret type of bootstrap tokens.
pub const SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
/// The group every bootstrap token authenticates in.
pub const GROUP: &str = "system:bootstrappers";
const ID_LEN: usize = 6;
const SECRET_LEN: usize = 16;

/// A bootstrap token: `<id>.<secret>`, `[a-z0-9]{6}.[a-z0-9]{16}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootstrapToken {
    pub id: String,
    pub secret: String,
}

fn token_chars(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

impl BootstrapToken {
    /// Parses `<id>.<secret>`.
    pub fn parse(s: &str) -> Option<Self> {
        let (id, secret) = s.split_once('.')?;
        (token_chars(id, ID_LEN) && token_chars(secret, SECRET_LEN)).then(|| BootstrapToken {
            id: id.into(),
            secret: secret.into(),
        })
    }

    /// A new random token.
    pub fn generate() -> Self {
        const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut bytes = uuid::Uuid::new_v4().as_bytes().to_vec();
        bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        let text: String = bytes
            .iter()
            .take(ID_LEN + SECRET_LEN)
            .map(|b| CHARS[*b as usize % CHARS.len()] as char)
            .collect();
        BootstrapToken {
            id: text[..ID_LEN].into(),
            secret: text[ID_LEN..].into(),
        }
    }

    /// The name of its Secret, `bootstrap-token-<id>`.
    pub fn secret_name(&self) -> String {
        format!("bootstrap-token-{}", self.id)
    }

    /// The Secret that makes it valid for authentication (no expiration unless given, an
    /// RFC 3339 time).
    pub fn secret(&self, description: &str, expiration: Option<&str>) -> Value {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let mut data = json!({
            "token-id": b64(&self.id),
            "token-secret": b64(&self.secret),
            "usage-bootstrap-authentication": b64("true"),
            "usage-bootstrap-signing": b64("true"),
            "description": b64(description),
        });
        if let Some(e) = expiration {
            data["expiration"] = json!(b64(e));
        }
        json!({"metadata": {"name": self.secret_name(), "namespace": "kube-system"},
               "type": SECRET_TYPE, "data": data})
    }

    /// `<id>.<secret>`.
    pub fn text(&self) -> String {
        format!("{}.{}", self.id, self.secret)
    }
}

/// The hash a join token names the CA by: sha256 of the CA bundle (PEM, as `/cacerts`
/// serves it), hex.
pub fn ca_hash(ca_pem: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(ca_pem.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The join token of `token` for the cluster whose CA is `ca_pem`: `K10<hash>::<id>.<secret>`.
pub fn join_token(ca_pem: &str, token: &BootstrapToken) -> String {
    format!("K10{}::{}", ca_hash(ca_pem), token.text())
}

/// Splits a join token into the CA hash and the bootstrap token. A bare `<id>.<secret>`
/// has no hash.
pub fn parse_join_token(s: &str) -> Option<(Option<String>, BootstrapToken)> {
    let s = s.trim();
    match s.strip_prefix("K10").and_then(|r| r.split_once("::")) {
        Some((hash, token)) => {
            let hex = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
            hex.then_some(())?;
            Some((
                Some(hash.to_ascii_lowercase()),
                BootstrapToken::parse(token)?,
            ))
        }
        None => Some((None, BootstrapToken::parse(s)?)),
    }
}

/// A Secret's `data[key]` as text.
fn data(secret: &Value, key: &str) -> Option<String> {
    let b64 = secret.pointer(&format!("/data/{key}"))?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    String::from_utf8(bytes).ok()
}

/// Whether two strings are equal, in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// What the authenticator decides about the Secret of a token: the identity it grants, or
/// why it grants none (logged, never told to the client).
pub fn check(
    secret: &Value,
    token: &BootstrapToken,
    now: jiff::Timestamp,
) -> Result<Identity, String> {
    if secret["type"] != SECRET_TYPE {
        return Err(format!("secret {} has the wrong type", token.secret_name()));
    }
    if secret.pointer("/metadata/deletionTimestamp").is_some() {
        return Err("the token's secret is being deleted".into());
    }
    if data(secret, "token-id").as_deref() != Some(&token.id) {
        return Err("the token id does not match its secret".into());
    }
    if !data(secret, "token-secret").is_some_and(|s| same(&s, &token.secret)) {
        return Err("the token secret does not match".into());
    }
    if data(secret, "usage-bootstrap-authentication").as_deref() != Some("true") {
        return Err("the token may not be used for authentication".into());
    }
    if let Some(e) = data(secret, "expiration") {
        let expired = e.parse::<jiff::Timestamp>().map_or(true, |t| t <= now);
        if expired {
            return Err(format!("the token expired at {e}"));
        }
    }
    let mut groups = vec![GROUP.to_string()];
    for g in data(secret, "auth-extra-groups")
        .unwrap_or_default()
        .split(',')
    {
        let g = g.trim();
        if g.starts_with("system:bootstrappers:") && !groups.iter().any(|x| x == g) {
            groups.push(g.to_string());
        }
    }
    groups.push("system:authenticated".into());
    Ok(Identity {
        user: format!("system:bootstrap:{}", token.id),
        groups,
        ..Identity::default()
    })
}

/// Authenticates a bearer token: `None` when it is not a valid bootstrap token.
pub async fn authenticate(registry: &Registry, bearer: &str) -> Option<Identity> {
    let token = BootstrapToken::parse(bearer)?;
    let secrets = find("", "v1", "secrets").expect("secrets are served");
    let secret = registry
        .get(secrets, Some("kube-system"), &token.secret_name())
        .await
        .ok()?;
    match check(&secret, &token, jiff::Timestamp::now()) {
        Ok(identity) => Some(identity),
        Err(why) => {
            tracing::info!(token = %token.id, %why, "bootstrap token refused");
            None
        }
    }
}

/// The node join token of the cluster: the one written in `file` if its Secret still lets
/// it authenticate, else a new token (its Secret created, the file rewritten, mode 0600),
/// as k3s keeps its `node-token`. Returns the join token text.
pub async fn ensure(registry: &Registry, file: &Path, ca_pem: &str) -> anyhow::Result<String> {
    let secrets = find("", "v1", "secrets").expect("secrets are served");
    let known = std::fs::read_to_string(file)
        .ok()
        .and_then(|t| parse_join_token(&t))
        .map(|(_, t)| t);
    if let Some(token) = known {
        let secret = registry
            .get(secrets, Some("kube-system"), &token.secret_name())
            .await;
        if let Ok(s) = secret
            && check(&s, &token, jiff::Timestamp::now()).is_ok()
        {
            return Ok(join_token(ca_pem, &token));
        }
    }
    let token = create(registry, "the node join token of krust server", None).await?;
    let text = join_token(ca_pem, &token);
    write_private(file, &format!("{text}\n"))?;
    Ok(text)
}

/// Creates a new bootstrap token's Secret.
pub async fn create(
    registry: &Registry,
    description: &str,
    expiration: Option<&str>,
) -> anyhow::Result<BootstrapToken> {
    let secrets = find("", "v1", "secrets").expect("secrets are served");
    let token = BootstrapToken::generate();
    registry
        .create(
            secrets,
            Some("kube-system"),
            token.secret(description, expiration),
            &WriteOptions::default(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("creating the bootstrap token: {}", e.message))?;
    Ok(token)
}

/// Writes `text` to `file` (and its directory) readable by its owner only, atomically.
pub fn write_private(file: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = file.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    std::fs::rename(&tmp, file)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> BootstrapToken {
        BootstrapToken::parse("abcdef.0123456789abcdef").unwrap()
    }

    #[test]
    fn tokens_are_six_and_sixteen_lowercase_alphanumerics() {
        assert_eq!(token().id, "abcdef");
        for bad in [
            "abcdef",
            "ABCDEF.0123456789abcdef",
            "abcde.0123456789abcdef",
            "abcdef.0123",
        ] {
            assert!(BootstrapToken::parse(bad).is_none(), "{bad}");
        }
        let t = BootstrapToken::generate();
        assert_eq!(BootstrapToken::parse(&t.text()), Some(t));
    }

    #[test]
    fn a_join_token_carries_the_ca_hash() {
        let join = join_token("CA", &token());
        let (hash, t) = parse_join_token(&join).unwrap();
        assert_eq!(hash.unwrap(), ca_hash("CA"));
        assert_eq!(t, token());
        assert_eq!(
            parse_join_token("abcdef.0123456789abcdef"),
            Some((None, token()))
        );
        assert!(parse_join_token("K10abc::abcdef.0123456789abcdef").is_none());
    }

    #[test]
    fn a_valid_secret_authenticates_as_a_bootstrapper() {
        let now = jiff::Timestamp::now();
        let mut secret = token().secret("test", None);
        secret["data"]["auth-extra-groups"] = json!(
            base64::engine::general_purpose::STANDARD
                .encode("system:bootstrappers:worker,system:masters")
        );
        let who = check(&secret, &token(), now).unwrap();
        assert_eq!(who.user, "system:bootstrap:abcdef");
        assert_eq!(
            who.groups,
            [
                "system:bootstrappers",
                "system:bootstrappers:worker",
                "system:authenticated"
            ]
        );
    }

    #[test]
    fn wrong_secrets_expired_tokens_and_other_usages_are_refused() {
        let now = jiff::Timestamp::now();
        let wrong = BootstrapToken::parse("abcdef.ffffffffffffffff").unwrap();
        assert!(check(&token().secret("t", None), &wrong, now).is_err());
        let expired = token().secret("t", Some("2020-01-01T00:00:00Z"));
        assert!(
            check(&expired, &token(), now)
                .unwrap_err()
                .contains("expired")
        );
        let future = token().secret("t", Some("2999-01-01T00:00:00Z"));
        assert!(check(&future, &token(), now).is_ok());
        let mut signing_only = token().secret("t", None);
        signing_only["data"]
            .as_object_mut()
            .unwrap()
            .remove("usage-bootstrap-authentication");
        assert!(check(&signing_only, &token(), now).is_err());
        let mut opaque = token().secret("t", None);
        opaque["type"] = json!("Opaque");
        assert!(check(&opaque, &token(), now).is_err());
    }
}
