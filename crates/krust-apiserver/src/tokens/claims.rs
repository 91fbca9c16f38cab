//! The claims of a service account token, as kube-apiserver's `pkg/serviceaccount/claims.go`
//! writes them: the registered ones (`iss`, `sub`, `aud`, `exp`, `iat`, `nbf`, `jti`) and
//! the private `kubernetes.io` claim naming the namespace, the service account and the
//! object the token is bound to (a Pod, with its Node, or a Secret), each by name and UID.

use serde::{Deserialize, Deserializer, Serialize};

/// The whole claim set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    #[serde(deserialize_with = "audiences")]
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: Private,
}

/// The `kubernetes.io` claim.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Private {
    pub namespace: String,
    pub serviceaccount: Ref,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Ref>,
}

/// An object by name and UID.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ref {
    pub name: String,
    pub uid: String,
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
fn audiences<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Aud {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Aud::deserialize(d)? {
        Aud::One(a) => vec![a],
        Aud::Many(a) => a,
    })
}

/// The user name of a service account (`serviceaccount.MakeUsername`).
pub fn username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// How far clocks may disagree when `exp` and `nbf` are checked (go-jose's default leeway).
pub const LEEWAY_SECONDS: i64 = 60;

impl Claims {
    /// The checks that need no objects: issuer, time window, audiences; the error says why
    /// the token is refused, in kube-apiserver's words.
    pub fn check(&self, issuer: &str, audiences: &[String], now: i64) -> Result<(), String> {
        if self.iss != issuer {
            return Err("token issuer is not this cluster's".into());
        }
        if now > self.exp + LEEWAY_SECONDS {
            return Err("service account token has expired".into());
        }
        if now + LEEWAY_SECONDS < self.nbf {
            return Err("service account token is not valid yet".into());
        }
        if !self.aud.iter().any(|a| audiences.contains(a)) {
            return Err(format!(
                "token audiences {:?} is invalid for the target audiences {:?}",
                self.aud, audiences
            ));
        }
        if self.sub
            != username(
                &self.kubernetes.namespace,
                &self.kubernetes.serviceaccount.name,
            )
        {
            return Err("sub does not name the token's service account".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            iss: "https://kubernetes.default.svc.cluster.local".into(),
            sub: "system:serviceaccount:default:default".into(),
            aud: vec!["https://kubernetes.default.svc.cluster.local".into()],
            exp: 2000,
            iat: 1000,
            nbf: 1000,
            jti: "id".into(),
            kubernetes: Private {
                namespace: "default".into(),
                serviceaccount: Ref {
                    name: "default".into(),
                    uid: "u".into(),
                },
                ..Private::default()
            },
        }
    }

    #[test]
    fn a_token_is_accepted_within_its_window_for_its_audience_only() {
        let c = claims();
        let iss = c.iss.clone();
        let api = vec![iss.clone()];
        assert_eq!(c.check(&iss, &api, 1500), Ok(()));
        assert_eq!(
            c.check(&iss, &api, 2061),
            Err("service account token has expired".into())
        );
        assert!(
            c.check(&iss, &["vault".into()], 1500)
                .unwrap_err()
                .contains("audiences")
        );
        assert!(c.check("https://elsewhere", &api, 1500).is_err());
    }

    #[test]
    fn the_audience_may_be_one_string() {
        let mut v = serde_json::to_value(claims()).unwrap();
        v["aud"] = serde_json::json!("vault");
        let c: Claims = serde_json::from_value(v).unwrap();
        assert_eq!(c.aud, vec!["vault".to_string()]);
        let v = serde_json::to_value(claims()).unwrap();
        assert!(v["kubernetes.io"].get("pod").is_none());
    }
}
