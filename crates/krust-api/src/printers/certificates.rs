//! The printer of CertificateSigningRequests (`printCertificateSigningRequest` of
//! kubernetes' `pkg/printers/internalversion`).

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::Column;
use super::util::{AGE_COL, NAME_COL, age_cell, arr_at, col, human_duration, name_cell, str_at};

const SIGNER_NAME: &str = "signerName indicates the requested signer, and is a qualified name.";
const REQUESTOR: &str = "username contains the name of the user that created the CertificateSigningRequest. Populated by the API server on creation and immutable.";
const REQUESTED_DURATION: &str = "expirationSeconds is the requested duration of validity of the issued certificate. The certificate signer may issue a certificate with a different validity duration so a client must check the delta between the notBefore and and notAfter fields in the issued certificate to determine the actual duration.";
const CONDITION: &str = "conditions applied to the request. Known conditions are \"Approved\", \"Denied\", and \"Failed\".";

pub(super) const CSR_COLUMNS: &[Column] = &[
    NAME_COL,
    AGE_COL,
    col("SignerName", SIGNER_NAME, 0),
    col("Requestor", REQUESTOR, 0),
    col("RequestedDuration", REQUESTED_DURATION, 0),
    col("Condition", CONDITION, 0),
];

/// `extractCSRStatus`: Denied before Approved before Pending, then `,Failed` and `,Issued`.
fn condition(csr: &Value) -> String {
    let has = |t: &str| {
        arr_at(csr, "status.conditions")
            .iter()
            .any(|c| c.get("type").and_then(Value::as_str) == Some(t))
    };
    let mut status = if has("Denied") {
        "Denied"
    } else if has("Approved") {
        "Approved"
    } else {
        "Pending"
    }
    .to_string();
    if has("Failed") {
        status.push_str(",Failed");
    }
    if !str_at(csr, "status.certificate").is_empty() {
        status.push_str(",Issued");
    }
    status
}

pub(super) fn csr_cells(csr: &Value, now: Timestamp) -> Vec<Value> {
    let duration = csr
        .pointer("/spec/expirationSeconds")
        .and_then(Value::as_i64)
        .map(|s| human_duration(SignedDuration::from_secs(s)))
        .unwrap_or_else(|| "<none>".into());
    vec![
        name_cell(csr),
        age_cell(csr, now),
        Value::from(str_at(csr, "spec.signerName")),
        Value::from(str_at(csr, "spec.username")),
        Value::from(duration),
        Value::from(condition(csr)),
    ]
}
