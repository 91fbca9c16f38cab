//! The service-account signing key (kube-apiserver's `--service-account-signing-key-file`,
//! kubeadm's `sa.key`): an ECDSA P-256 key kept beside the cluster PKI, its public half
//! published as a JWK whose `kid` is the SHA-256 of its DER form, as Kubernetes derives it.

use std::path::Path;

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The DER prefix of a P-256 SubjectPublicKeyInfo, before the 65-byte uncompressed point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The key tokens are signed with.
pub struct SigningKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    /// The key id: base64url of the SHA-256 of the public key's DER.
    pub kid: String,
}

impl SigningKey {
    /// Loads `<dir>/sa.key` (PKCS#8 PEM), making it first if missing.
    pub fn load_or_create(dir: &Path) -> Result<Self> {
        let path = dir.join("sa.key");
        let pem = match std::fs::read_to_string(&path) {
            Ok(pem) => pem,
            Err(_) => {
                let pem = rcgen::KeyPair::generate()?.serialize_pem();
                std::fs::write(&path, &pem)
                    .with_context(|| format!("writing {}", path.display()))?;
                pem
            }
        };
        match rustls_pemfile::private_key(&mut pem.as_bytes()) {
            Ok(Some(rustls::pki_types::PrivateKeyDer::Pkcs8(der))) => {
                Self::from_pkcs8(der.secret_pkcs8_der())
            }
            _ => anyhow::bail!("{} holds no PKCS#8 private key", path.display()),
        }
    }

    fn from_pkcs8(der: &[u8]) -> Result<Self> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|e| anyhow::anyhow!("sa.key is not a P-256 PKCS#8 key: {e}"))?;
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(spki(pair.public_key().as_ref())));
        Ok(SigningKey { pair, rng, kid })
    }

    /// An ES256 signature (r ‖ s) of `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair
            .sign(&self.rng, message)
            .map(|s| s.as_ref().to_vec())
            .unwrap_or_default()
    }

    /// Whether `sig` is this key's ES256 signature of `message`.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        let public = signature::UnparsedPublicKey::new(
            &signature::ECDSA_P256_SHA256_FIXED,
            self.pair.public_key().as_ref(),
        );
        public.verify(message, sig).is_ok()
    }

    /// The public key as a JWK (`/openid/v1/jwks`).
    pub fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({
            "use": "sig",
            "kty": "EC",
            "kid": self.kid,
            "crv": "P-256",
            "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        })
    }
}

/// The DER SubjectPublicKeyInfo of an uncompressed P-256 point.
fn spki(point: &[u8]) -> Vec<u8> {
    [&P256_SPKI_PREFIX[..], point].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_and_its_id_is_the_hash_of_its_public_der() {
        let dir = tempfile::tempdir().unwrap();
        let first = SigningKey::load_or_create(dir.path()).unwrap();
        let again = SigningKey::load_or_create(dir.path()).unwrap();
        assert_eq!(first.kid, again.kid);
        let pem = std::fs::read_to_string(dir.path().join("sa.key")).unwrap();
        let rc = rcgen::KeyPair::from_pem(&pem).unwrap();
        let body: String = rc
            .public_key_pem()
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        let want = URL_SAFE_NO_PAD.encode(Sha256::digest(der));
        assert_eq!(first.kid, want, "the SPKI prefix is P-256's");
        let sig = first.sign(b"message");
        assert!(again.verify(b"message", &sig));
        assert!(!again.verify(b"other", &sig));
        assert_eq!(first.jwk()["kid"], json!(first.kid));
    }
}
