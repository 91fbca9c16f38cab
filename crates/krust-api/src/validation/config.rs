//! ConfigMap and Secret validation (Kubernetes' `ValidateConfigMap`, `ValidateSecret`):
//! data keys and total size.

use super::names::config_map_key;
use crate::status::Cause;
use base64::Engine;
use serde_json::{Value, json};

/// The most data a ConfigMap or Secret may hold, in bytes.
const MAX_BYTES: usize = 1024 * 1024;

/// Validates a ConfigMap (`data` and `binaryData`) or a Secret (`data`).
pub fn config(kind: &str, obj: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let maps: &[&str] = match kind {
        "ConfigMap" => &["data", "binaryData"],
        _ => &["data"],
    };
    let mut total = 0;
    for field in maps {
        for (key, value) in obj
            .get(*field)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let path = format!("{field}[{key}]");
            for why in config_map_key(key) {
                causes.push(Cause::invalid(path.clone(), &json!(key), why));
            }
            total += match (kind, *field) {
                ("ConfigMap", "data") => value.as_str().map_or(0, str::len),
                // Base64 in JSON; the size counted is the bytes it stands for.
                _ => value.as_str().map_or(0, |v| {
                    base64::engine::general_purpose::STANDARD
                        .decode(v)
                        .map_or(v.len(), |b| b.len())
                }),
            };
            if *field == "binaryData" && obj.pointer("/data").and_then(|d| d.get(key)).is_some() {
                causes.push(Cause::invalid(
                    path,
                    &json!(key),
                    "duplicate of key present in data",
                ));
            }
        }
    }
    if total > MAX_BYTES {
        let field = if kind == "ConfigMap" { "" } else { "data" };
        causes.push(Cause {
            reason: "FieldValueTooLong",
            message: format!("Too long: must have at most {MAX_BYTES} bytes"),
            field: field.into(),
        });
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_keys_follow_kubernetes_config_key_rules() {
        let keys = ["", "a/b", ".", "..", "..a", "a b", &"k".repeat(254)];
        for key in keys {
            let cm = json!({"data": {key: "v"}});
            let causes = config("ConfigMap", &cm);
            assert!(!causes.is_empty(), "{key:?} was accepted");
            assert_eq!(causes[0].field, format!("data[{key}]"));
        }
        let good =
            json!({"data": {"key.name": "v", "KEY_NAME": "v", "key-name": "v", ".env": "v"}});
        assert!(config("ConfigMap", &good).is_empty());
        let secret = json!({"data": {"a/b": "dg=="}});
        assert_eq!(config("Secret", &secret)[0].field, "data[a/b]");
    }

    #[test]
    fn a_key_in_both_data_and_binary_data_is_a_duplicate() {
        let cm = json!({"data": {"k": "v"}, "binaryData": {"k": "dg=="}});
        let causes = config("ConfigMap", &cm);
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "binaryData[k]");
    }

    #[test]
    fn more_than_a_mebibyte_of_data_is_too_long() {
        let cm = json!({"data": {"a": "x".repeat(MAX_BYTES), "b": "y"}});
        assert_eq!(config("ConfigMap", &cm)[0].reason, "FieldValueTooLong");
    }
}
