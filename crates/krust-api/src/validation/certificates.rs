//! CertificateSigningRequest validation (Kubernetes' `pkg/apis/certificates/validation`):
//! the request must be a PEM certificate request, the signer a qualified name, the usages
//! known and distinct, a requested duration at least ten minutes; Approved and Denied
//! exclude each other, and an issued certificate must be PEM certificates.

use super::immutable;
use crate::csr;
use crate::status::Cause;
use serde_json::Value;

/// The causes of an invalid CertificateSigningRequest.
pub fn csr(obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut causes = Vec::new();
    match obj.pointer("/spec/request").and_then(Value::as_str) {
        None | Some("") => causes.push(Cause::required("spec.request", "")),
        Some(_) => match csr::request_pem(obj) {
            None => causes.push(Cause::invalid(
                "spec.request",
                &obj["spec"]["request"],
                "illegal base64 data",
            )),
            Some(pem) => {
                if let Err(why) = csr::parse(&pem) {
                    causes.push(Cause::invalid("spec.request", &obj["spec"]["request"], why));
                }
            }
        },
    }
    let signer = obj.pointer("/spec/signerName").and_then(Value::as_str);
    match signer {
        None | Some("") => causes.push(Cause::required("spec.signerName", "")),
        Some(s) => {
            if let Some(why) = signer_name(s) {
                causes.push(Cause::invalid("spec.signerName", &Value::from(s), why));
            }
        }
    }
    if let Some(secs) = obj.pointer("/spec/expirationSeconds")
        && secs.as_i64().is_some_and(|s| s < 600)
    {
        causes.push(Cause::invalid(
            "spec.expirationSeconds",
            secs,
            "may not specify a duration less than 600 seconds (10 minutes)",
        ));
    }
    let usages = obj
        .pointer("/spec/usages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if usages.is_empty() {
        causes.push(Cause::required("spec.usages", ""));
    }
    for (i, u) in usages.iter().enumerate() {
        let field = format!("spec.usages[{i}]");
        if !u.as_str().is_some_and(|u| csr::KEY_USAGES.contains(&u)) {
            causes.push(Cause::not_supported(field, u, csr::KEY_USAGES));
        } else if usages[..i].contains(u) {
            causes.push(Cause::duplicate(field, u));
        }
    }
    causes.extend(conditions(obj));
    if let Some(cert) = obj.pointer("/status/certificate").and_then(Value::as_str)
        && !cert.is_empty()
        && !is_pem_certificates(cert)
    {
        causes.push(Cause::invalid(
            "status.certificate",
            &Value::from("<certificate data>"),
            "must contain at least one CERTIFICATE PEM block",
        ));
    }
    if let Some(old) = old {
        let issued = old
            .pointer("/status/certificate")
            .and_then(Value::as_str)
            .is_some_and(|c| !c.is_empty());
        if issued
            && let Some(c) = immutable(obj, Some(old), "/status/certificate", "status.certificate")
        {
            causes.push(Cause::forbidden(
                c.field,
                "updates may not modify existing certificate content",
            ));
        }
    }
    causes
}

/// `validateSignerName`: `<domain>/<path>`, the domain a DNS subdomain.
fn signer_name(s: &str) -> Option<String> {
    let Some((domain, path)) = s.split_once('/') else {
        return Some(
            "must be a fully qualified domain and path of the form 'example.com/signer-name'"
                .into(),
        );
    };
    if path.is_empty() || domain.is_empty() {
        return Some("validating path: may not be empty".into());
    }
    super::dns1123_subdomain(domain)
        .into_iter()
        .next()
        .map(|why| format!("validating domain: {why}"))
}

/// Condition types unique, Approved and Denied only `True` and never together.
fn conditions(obj: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let list = obj
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut seen: Vec<&str> = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let kind = c["type"].as_str().unwrap_or_default();
        let field = format!("status.conditions[{i}]");
        if kind.is_empty() {
            causes.push(Cause::required(format!("{field}.type"), ""));
            continue;
        }
        if seen.contains(&kind) {
            causes.push(Cause::duplicate(format!("{field}.type"), &c["type"]));
        }
        seen.push(kind);
        let status = c["status"].as_str().unwrap_or_default();
        if matches!(kind, "Approved" | "Denied") && status != "True" {
            causes.push(Cause::not_supported(
                format!("{field}.status"),
                &c["status"],
                &["True"],
            ));
        } else if status.is_empty() {
            causes.push(Cause::required(format!("{field}.status"), ""));
        }
    }
    if seen.contains(&"Approved") && seen.contains(&"Denied") {
        causes.push(Cause::invalid(
            "status.conditions",
            &Value::Null,
            "Approved and Denied conditions are mutually exclusive",
        ));
    }
    causes
}

fn is_pem_certificates(b64: &str) -> bool {
    use base64::Engine;
    let Ok(pem) = base64::engine::general_purpose::STANDARD.decode(b64) else {
        return false;
    };
    let mut rest = pem.as_slice();
    let mut any = false;
    while let Ok((left, block)) = x509_parser::pem::parse_x509_pem(rest) {
        if block.label != "CERTIFICATE" || block.parse_x509().is_err() {
            return false;
        }
        any = true;
        rest = left;
        if rest.iter().all(u8::is_ascii_whitespace) {
            break;
        }
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;
    use base64::Engine;
    use serde_json::json;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn csr_with(request: &str, signer: &str, usages: Value) -> Value {
        json!({"metadata": {"name": "c"},
               "spec": {"request": b64(request), "signerName": signer, "usages": usages}})
    }

    fn fields(obj: &Value) -> Vec<(String, &'static str)> {
        csr(obj, None)
            .into_iter()
            .map(|c| (c.field, c.reason))
            .collect()
    }

    #[test]
    fn a_kubelet_request_is_valid() {
        let pem = crate::csr::tests::request("system:node:n1", &[], &[]);
        let obj = csr_with(
            &pem,
            crate::csr::KUBELET_CLIENT_SIGNER,
            json!(["digital signature", "client auth"]),
        );
        assert!(fields(&obj).is_empty(), "{:?}", fields(&obj));
        let csrs = find("certificates.k8s.io", "v1", "certificatesigningrequests").unwrap();
        assert!(super::super::validate(csrs, &obj, None).is_ok());
    }

    #[test]
    fn bad_requests_signers_and_usages_are_refused() {
        let obj = csr_with(
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            "no-slash",
            json!(["client auth", "client auth", "flying"]),
        );
        assert_eq!(
            fields(&obj),
            [
                ("spec.request".to_string(), "FieldValueInvalid"),
                ("spec.signerName".to_string(), "FieldValueInvalid"),
                ("spec.usages[1]".to_string(), "FieldValueDuplicate"),
                ("spec.usages[2]".to_string(), "FieldValueNotSupported"),
            ]
        );
        let err = csr(&obj, None);
        assert!(
            err[0]
                .message
                .ends_with("PEM block type must be CERTIFICATE REQUEST"),
            "{}",
            err[0].message
        );
        let empty = json!({"metadata": {"name": "c"}, "spec": {}});
        assert_eq!(
            fields(&empty),
            [
                ("spec.request".to_string(), "FieldValueRequired"),
                ("spec.signerName".to_string(), "FieldValueRequired"),
                ("spec.usages".to_string(), "FieldValueRequired"),
            ]
        );
    }

    #[test]
    fn approved_and_denied_exclude_each_other() {
        let pem = crate::csr::tests::request("u", &[], &[]);
        let mut obj = csr_with(&pem, "example.com/s", json!(["client auth"]));
        obj["status"] = json!({"conditions": [
            {"type": "Approved", "status": "True"}, {"type": "Denied", "status": "True"}]});
        assert_eq!(
            fields(&obj),
            [("status.conditions".to_string(), "FieldValueInvalid")]
        );
        obj["status"] = json!({"conditions": [{"type": "Approved", "status": "False"}]});
        assert_eq!(
            fields(&obj),
            [(
                "status.conditions[0].status".to_string(),
                "FieldValueNotSupported"
            )]
        );
        obj["spec"]["expirationSeconds"] = json!(60);
        obj["status"] = json!({"certificate": b64("garbage")});
        assert_eq!(
            fields(&obj),
            [
                ("spec.expirationSeconds".to_string(), "FieldValueInvalid"),
                ("status.certificate".to_string(), "FieldValueInvalid"),
            ]
        );
    }
}
