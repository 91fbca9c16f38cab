//! Name, label and annotation rules (Kubernetes' apimachinery validation).

use crate::status::Cause;
use serde_json::{Value, json};

const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric \
characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or \
'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case \
alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. \
'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters \
or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  \
or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

const QUALIFIED_NAME_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', \
and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', \
regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric \
characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  \
or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

fn is_dns1123_label(s: &str) -> bool {
    s.len() <= 63 && is_dns1123_part(s)
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, of any length: a label, or a part of a subdomain (whose
/// parts Kubernetes does not limit to 63 characters; only the whole name, to 253).
fn is_dns1123_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// The reasons `s` is not a DNS-1123 label (empty when it is one).
pub fn dns1123_label(s: &str) -> Vec<String> {
    let mut why = Vec::new();
    if s.len() > 63 {
        why.push("must be no more than 63 characters".to_string());
    }
    if !is_dns1123_label(&s[..s.len().min(63)]) || s.is_empty() {
        why.push(DNS1123_LABEL_MSG.to_string());
    }
    why
}

/// The reasons `s` is not a DNS-1123 subdomain.
pub fn dns1123_subdomain(s: &str) -> Vec<String> {
    let mut why = Vec::new();
    if s.len() > 253 {
        why.push("must be no more than 253 characters".to_string());
    }
    if s.is_empty() || !s.split('.').all(is_dns1123_part) {
        why.push(DNS1123_SUBDOMAIN_MSG.to_string());
    }
    why
}

const CONFIG_KEY_MSG: &str = "a valid config key must consist of alphanumeric characters, '-', '_' \
or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

/// The reasons `s` is not a key of a ConfigMap's or Secret's data (Kubernetes'
/// `IsConfigMapKey`).
pub fn config_map_key(s: &str) -> Vec<String> {
    let mut why = Vec::new();
    if s.len() > 253 {
        why.push("must be no more than 253 characters".to_string());
    }
    let chars = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.');
    if s.is_empty() || !s.bytes().all(chars) {
        why.push(CONFIG_KEY_MSG.to_string());
    }
    match s {
        "." => why.push("must not be '.'".to_string()),
        ".." => why.push("must not be '..'".to_string()),
        _ if s.starts_with("..") => why.push("must not start with '..'".to_string()),
        _ => {}
    }
    why
}

/// The reasons `s` is not a DNS-1035 label (service names).
pub fn dns1035_label(s: &str) -> Vec<String> {
    let mut why = Vec::new();
    if s.len() > 63 {
        why.push("must be no more than 63 characters".to_string());
    }
    if !is_dns1123_label(s) || !s.as_bytes()[0].is_ascii_lowercase() {
        why.push(DNS1035_LABEL_MSG.to_string());
    }
    why
}

fn is_qualified_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// The reasons `s` is not a qualified name (`prefix/name`), as label and annotation keys are.
pub fn qualified_name(s: &str) -> Vec<String> {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    let mut why = Vec::new();
    if let Some(p) = prefix {
        if p.is_empty() {
            why.push("prefix part must be non-empty".to_string());
        } else {
            why.extend(
                dns1123_subdomain(p)
                    .into_iter()
                    .map(|m| format!("prefix part {m}")),
            );
        }
    }
    if name.is_empty() {
        why.push("name part must be non-empty".to_string());
    } else {
        if name.len() > 63 {
            why.push("name part must be no more than 63 characters".to_string());
        }
        if !is_qualified_part(name) {
            why.push(QUALIFIED_NAME_MSG.to_string());
        }
    }
    why
}

/// The reasons `s` is not a label value.
pub fn label_value(s: &str) -> Vec<String> {
    let mut why = Vec::new();
    if s.len() > 63 {
        why.push("must be no more than 63 characters".to_string());
    }
    if !s.is_empty() && !is_qualified_part(s) {
        why.push(LABEL_VALUE_MSG.to_string());
    }
    why
}

/// Causes for invalid label keys and values under `field`.
pub fn labels(map: Option<&Value>, field: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(Value::Object(m)) = map else {
        return causes;
    };
    for (k, v) in m {
        for why in qualified_name(k) {
            causes.push(Cause::invalid(field, &json!(k), why));
        }
        let value = v.as_str().unwrap_or_default();
        for why in label_value(value) {
            causes.push(Cause::invalid(format!("{field}[{k}]"), v, why));
        }
    }
    causes
}

/// The reasons `s` is not a port name (`validation.IsValidPortName`, an IANA service name).
pub fn port_name(s: &str) -> Vec<String> {
    let mut why = Vec::new();
    if s.len() > 15 {
        why.push("must be no more than 15 characters".to_string());
    }
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        why.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if !s.bytes().any(|b| b.is_ascii_lowercase()) {
        why.push("must contain at least one letter (a-z)".into());
    }
    if s.contains("--") {
        why.push("must not contain consecutive hyphens".into());
    }
    if s.starts_with('-') || s.ends_with('-') {
        why.push("must not begin or end with a hyphen".into());
    }
    why
}

/// `ValidateLabelSelector`: the labels of `matchLabels`, then each of `matchExpressions`'
/// operator, values and key, under `field`.
pub fn label_selector(selector: Option<&Value>, field: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(selector) = selector.filter(|s| !s.is_null()) else {
        return causes;
    };
    causes.extend(labels(
        selector.get("matchLabels"),
        &format!("{field}.matchLabels"),
    ));
    let exprs = selector.get("matchExpressions").and_then(Value::as_array);
    for (i, e) in exprs.into_iter().flatten().enumerate() {
        let path = format!("{field}.matchExpressions[{i}]");
        let values = e.get("values").and_then(Value::as_array);
        let count = values.map_or(0, Vec::len);
        let operator = e.get("operator").cloned().unwrap_or(json!(""));
        match operator.as_str().unwrap_or_default() {
            "In" | "NotIn" if count == 0 => causes.push(Cause::required(
                format!("{path}.values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if count > 0 => causes.push(Cause::forbidden(
                format!("{path}.values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            _ => causes.push(Cause::invalid(
                format!("{path}.operator"),
                &operator,
                "not a valid selector operator",
            )),
        }
        let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
        for why in qualified_name(key) {
            causes.push(Cause::invalid(format!("{path}.key"), &json!(key), why));
        }
        for (j, v) in values.into_iter().flatten().enumerate() {
            for why in label_value(v.as_str().unwrap_or_default()) {
                causes.push(Cause::invalid(format!("{path}.values[{j}]"), v, why));
            }
        }
    }
    causes
}

/// Causes for invalid annotation keys and a total size over 256 KiB.
pub fn annotations(map: Option<&Value>, field: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(Value::Object(m)) = map else {
        return causes;
    };
    let mut size = 0;
    for (k, v) in m {
        for why in qualified_name(&k.to_lowercase()) {
            causes.push(Cause::invalid(field, &json!(k), why));
        }
        size += k.len() + v.as_str().map_or(0, str::len);
    }
    if size > 256 * 1024 {
        causes.push(Cause {
            reason: "FieldValueTooLong",
            message: format!("Too long: may not be more than {} bytes", 256 * 1024),
            field: field.to_string(),
        });
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(dns1123_subdomain("nginx-depl.v1").is_empty());
        assert!(!dns1123_subdomain("Bad_Name").is_empty());
        assert!(dns1123_subdomain("Bad_Name")[0].starts_with("a lowercase RFC 1123 subdomain"));
        assert!(!dns1123_label("a.b").is_empty());
        assert!(!dns1035_label("1abc").is_empty());
        assert!(dns1035_label("abc-1").is_empty());
        assert_eq!(
            dns1123_label(&"a".repeat(64))[0],
            "must be no more than 63 characters"
        );
    }

    #[test]
    fn label_keys_and_values() {
        assert!(qualified_name("app.kubernetes.io/name").is_empty());
        assert!(!qualified_name("/x").is_empty());
        assert!(label_value("").is_empty());
        assert!(!label_value("-x").is_empty());
        let m = json!({"good": "v", "bad key": "v"});
        assert_eq!(labels(Some(&m), "metadata.labels").len(), 1);
    }

    #[test]
    fn subdomain_names_may_have_parts_longer_than_63_characters() {
        assert!(dns1123_subdomain(&"a".repeat(64)).is_empty());
        assert!(dns1123_subdomain(&format!("{}.b", "a".repeat(200))).is_empty());
        assert_eq!(
            dns1123_subdomain(&"a".repeat(254))[0],
            "must be no more than 253 characters"
        );
        assert!(!dns1123_label(&"a".repeat(64)).is_empty());
    }
}
