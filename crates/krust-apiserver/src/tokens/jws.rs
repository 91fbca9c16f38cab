//! JWTs in JWS compact form (RFC 7515/7519) signed with ES256, as kube-apiserver's
//! `pkg/serviceaccount/jwt.go` writes and reads them (through go-jose).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::key::SigningKey;

/// `header.payload.signature` for `claims`.
pub fn sign(key: &SigningKey, claims: &Value) -> String {
    let header = json!({"alg": "ES256", "kid": key.kid});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()));
    format!("{input}.{sig}")
}

/// Whether `token` looks like a JWT at all (three base64url parts, a JSON header): other
/// bearer tokens are left to other authenticators.
pub fn is_jwt(token: &str) -> bool {
    token.split('.').count() == 3
        && token
            .split('.')
            .next()
            .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
            .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
            .is_some_and(|h| h.is_object())
}

/// The claims of `token` if `key` signed it, or why not.
pub fn verify(key: &SigningKey, token: &str) -> Result<Value, &'static str> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("malformed token");
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| "malformed token");
    let header: Value = serde_json::from_slice(&decode(header)?).map_err(|_| "malformed token")?;
    if header["alg"] != "ES256" {
        return Err("unexpected signing algorithm");
    }
    let signed = &token[..token.len() - sig.len() - 1];
    if !key.verify(signed.as_bytes(), &decode(sig)?) {
        return Err("invalid signature");
    }
    serde_json::from_slice(&decode(payload)?).map_err(|_| "malformed token")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_token_verifies_and_a_changed_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::load_or_create(dir.path()).unwrap();
        let token = sign(&key, &json!({"sub": "me"}));
        assert!(is_jwt(&token));
        assert_eq!(verify(&key, &token).unwrap()["sub"], "me");
        let mut parts: Vec<&str> = token.split('.').collect();
        let other = URL_SAFE_NO_PAD.encode(json!({"sub": "admin"}).to_string());
        parts[1] = &other;
        assert_eq!(verify(&key, &parts.join(".")), Err("invalid signature"));
        let elsewhere = tempfile::tempdir().unwrap();
        let stranger = SigningKey::load_or_create(elsewhere.path()).unwrap();
        assert_eq!(verify(&stranger, &token), Err("invalid signature"));
        assert!(!is_jwt("abcdef.0123456789abcdef"));
    }
}
